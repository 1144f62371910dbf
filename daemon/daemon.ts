import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { Alerter } from '../lib/alerting/alerter.js';
import type { AlertProvider } from '../lib/alerting/providers/provider.js';
import type { AlertPolicy } from '../lib/alerting/state-machine.js';
import { trustingClient } from '../lib/alerting/providers/http-post.js';
import { SlackProvider } from '../lib/alerting/providers/slack.js';
import { WebhookProvider } from '../lib/alerting/providers/webhook.js';
import { AlertStore } from '../lib/alerting/store.js';
import { pushHeartbeat } from '../lib/alerting/heartbeat.js';
import cron, { type ScheduledTask } from 'node-cron';
import type { Dispatcher } from 'undici';
import { cachedDeployWindows } from '../lib/alerting/deploy-marker.js';
import type { BackupJob } from '../lib/checks/backup.js';
import { buildChecks } from '../lib/checks/index.js';
import type { DaemonConfig, DaemonSecrets } from '../lib/daemon-config.js';
import { startHttp } from './http.js';
import { DaemonMetrics } from './metrics.js';
import { Scheduler } from './scheduler.js';

export interface RunningDaemon {
  port: number;
  scheduler: Scheduler;
  metrics: DaemonMetrics;
  stop: () => Promise<void>;
}

const clientFor = (cfg: DaemonConfig) => (cfg.alerting.caFile === undefined ? undefined : trustingClient(cfg.alerting.caFile));

export function providersFor(cfg: DaemonConfig, s: DaemonSecrets): AlertProvider[] {
  const out: AlertProvider[] = [];
  const client = clientFor(cfg);
  if (cfg.alerting.slack && s.slackWebhookUrl !== undefined) out.push(new SlackProvider(s.slackWebhookUrl, undefined, client));
  if (cfg.alerting.webhook && s.webhookUrl !== undefined) out.push(new WebhookProvider(s.webhookUrl, s.webhookToken, undefined, client));
  return out;
}

/** The dead-man heartbeat on its own schedule (alerting.heartbeat), once at start too; the URL is never logged. */
function startHeartbeat(cfg: DaemonConfig, url: string | undefined, scheduler: Scheduler, metrics: DaemonMetrics, log: Logger, dispatcher: Dispatcher | undefined): ScheduledTask | undefined {
  const hb = cfg.alerting.heartbeat;
  if (hb === undefined || url === undefined) return undefined;
  const beat = async () => {
    const r = await pushHeartbeat({ url, method: hb.method, timeoutMs: hb.timeoutMs, host: cfg.host, dispatcher }, scheduler.latest.values());
    metrics.heartbeat(r.ok ? 'sent' : 'failed');
    if (r.ok) log.debug({ event: 'heartbeat' }, 'heartbeat pushed');
    else log.warn({ event: 'heartbeat_failed', reason: r.reason }, `heartbeat push failed (${r.reason}); the push monitor alerts if this goes on`);
  };
  void beat();
  return cron.schedule(hb.schedule, beat, { name: 'heartbeat', noOverlap: true });
}

/** alerting's policy, and one per check whose config overrides a number of it (checks.<name>.alert). */
export function alertPolicies(cfg: DaemonConfig): { policy: AlertPolicy; policies: Record<string, AlertPolicy> } {
  const a = cfg.alerting;
  const policyOf = (o: { failureThreshold?: number | undefined; successThreshold?: number | undefined; reminderIntervalMin?: number | undefined } = {}): AlertPolicy => ({
    failureThreshold: o.failureThreshold ?? a.failureThreshold,
    successThreshold: o.successThreshold ?? a.successThreshold,
    sendOnResolved: a.sendOnResolved,
    reminderIntervalMs: (o.reminderIntervalMin ?? a.reminderIntervalMin) * 60_000,
  });
  const policies: Record<string, AlertPolicy> = {};
  for (const [name, c] of Object.entries(cfg.checks)) {
    const o = (c as { alert?: Parameters<typeof policyOf>[0] } | undefined)?.alert;
    if (o !== undefined) policies[name] = policyOf(o);
  }
  return { policy: policyOf(), policies };
}

/** The composition root: checks, alerting, scheduler, then the HTTP endpoints. */
export async function startDaemon(cfg: DaemonConfig, secrets: DaemonSecrets, log: Logger, opts: { schedule?: boolean; backupJob?: BackupJob } = {}): Promise<RunningDaemon> {
  const metrics = new DaemonMetrics();
  const providers = providersFor(cfg, secrets);
  if (providers.length === 0) log.warn('no alert destination configured (alerting.slack / alerting.webhook): results go to the log and /metrics only');
  const a = cfg.alerting;
  const alerter = new Alerter({
    host: cfg.host, store: new AlertStore(cfg.stateFile), providers, maintenance: a.maintenance, runbookUrl: cfg.runbookUrl, log,
    ...alertPolicies(cfg),
    extraMaintenance: cachedDeployWindows(cfg.deployMarker),
    causes: a.causes,
    backoff: a.backoff,
    onSent: (p, k) => metrics.alertSent(p, k),
    onFailed: (p, k) => metrics.alertFailed(p, k),
  });
  const checks = buildChecks(cfg.checks, secrets, { backupJob: opts.backupJob, deployMarker: cfg.deployMarker });
  const scheduler = new Scheduler(checks, alerter, metrics, log);
  let http: { server: Server; port: number };
  try {
    http = await startHttp(cfg.listen.host, cfg.listen.port, scheduler, metrics);
  } catch (error) {
    throw new Error(`cannot listen on ${cfg.listen.host}:${cfg.listen.port} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): change listen.port`);
  }
  let heartbeat: ScheduledTask | undefined;
  if (opts.schedule !== false) {
    scheduler.start();
    heartbeat = startHeartbeat(cfg, secrets.heartbeatUrl, scheduler, metrics, log, clientFor(cfg));
  }
  log.info({ event: 'daemon_started', port: http.port, checks: checks.map((c) => ({ name: c.check.name, schedule: c.schedule })), providers: providers.map((p) => p.name), heartbeat: cfg.alerting.heartbeat !== undefined }, 'health daemon started');
  return {
    port: http.port, scheduler, metrics,
    stop: async () => {
      await heartbeat?.destroy();
      await scheduler.stop();
      alerter.stop();
      http.server.closeAllConnections();
      await new Promise<void>((resolve) => http.server.close(() => resolve()));
    },
  };
}
