import type { HostSecrets, ResolvedHost } from '../inventory/index.js';
import type { AlertProvider } from './providers/provider.js';
import { trustingClient } from './providers/http-post.js';
import { SlackProvider } from './providers/slack.js';
import { WebhookProvider } from './providers/webhook.js';
import { runbookLink, type AlertEvent } from './state-machine.js';

/** Where an operator's command sends a host's alerts, from the inventory: where the host's daemon sends them. */
export function hostAlertProviders(host: ResolvedHost, secrets: HostSecrets): AlertProvider[] {
  const client = host.alerts.caFile === undefined ? undefined : trustingClient(host.alerts.caFile);
  return [
    ...(host.alerts.slack && secrets.slackWebhookUrl !== undefined ? [new SlackProvider(secrets.slackWebhookUrl.reveal(), undefined, client)] : []),
    ...(host.alerts.webhook && secrets.webhookUrl !== undefined ? [new WebhookProvider(secrets.webhookUrl.reveal(), secrets.webhookToken?.reveal(), undefined, client)] : []),
  ];
}

/** A one-off critical alert from an operator's command (a deploy that failed), sent at once: no state machine, no retry. */
export async function sendOperatorAlert(host: ResolvedHost, secrets: HostSecrets, a: { check: string; target: string; message: string }): Promise<void> {
  const at = new Date().toISOString();
  const event: AlertEvent = {
    kind: 'triggered', host: host.name, check: a.check, target: a.target, severity: 'critical', message: a.message,
    values: {}, since: at, at, runbook: runbookLink(host.alerts.runbookUrl ?? 'RUNBOOK.md', a.check),
  };
  await Promise.all(hostAlertProviders(host, secrets).map((p) => p.send(event)));
}
