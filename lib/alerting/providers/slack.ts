import type { AlertEvent } from '../state-machine.js';
import type { Dispatcher } from 'undici';
import { postJson } from './http-post.js';
import type { AlertProvider } from './provider.js';

const COLOR = { critical: '#d40e0d', warn: '#e8a317', ok: '#2eb67d' } as const;
const EMOJI = { critical: ':red_circle:', warn: ':large_orange_circle:', ok: ':large_green_circle:' } as const;

function describeValues(values: AlertEvent['values']): string {
  return Object.entries(values)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
}

/** The Slack message: one line that says it all (also the notification text), details in an attachment. */
export function slackMessage(e: AlertEvent): Record<string, unknown> {
  const head =
    e.kind === 'resolved'
      ? `${EMOJI.ok} RESOLVED ${e.check} on ${e.host} (${e.target})`
      : `${EMOJI[e.severity]} ${e.severity.toUpperCase()}${e.kind === 'triggered' ? '' : ` (${e.kind})`} ${e.check} on ${e.host} (${e.target})`;
  const values = describeValues(e.values);
  const lines = [
    `*${e.kind === 'resolved' ? 'Now' : 'What is wrong'}:* ${e.message}`,
    ...(values === '' ? [] : [`*Measured:* ${values}`]),
    ...((e.affected ?? []).length === 0 ? [] : [`*Also affected (held back, same cause):* ${(e.affected ?? []).join(', ')}`]),
    `*${e.kind === 'resolved' ? 'Failing since' : 'Since'}:* ${e.since}`,
    `*Runbook:* <${e.runbook}|RUNBOOK.md#${e.check}>`,
  ];
  return {
    text: head,
    attachments: [{ color: COLOR[e.severity], mrkdwn_in: ['text'], text: lines.join('\n'), footer: `rtcops health daemon · ${e.at}` }],
  };
}

export class SlackProvider implements AlertProvider {
  readonly name = 'slack';
  constructor(private readonly webhookUrl: string, private readonly timeoutMs = 10_000, private readonly dispatcher?: Dispatcher) {}

  send(event: AlertEvent): Promise<void> {
    return postJson(this.name, this.webhookUrl, slackMessage(event), this.timeoutMs, {}, this.dispatcher);
  }
}
