import type { Logger } from 'pino';
import type { CheckResult } from '../checks/result.js';
import { inMaintenance, type MaintenanceWindow } from './maintenance.js';
import type { AlertProvider } from './providers/provider.js';
import { evaluate, INITIAL, markSent, runbookLink, type AlertEvent, type AlertKind, type AlertPolicy } from './state-machine.js';
import type { AlertStore } from './store.js';

export interface RetryPolicy {
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface AlerterOptions {
  host: string;
  store: AlertStore;
  providers: AlertProvider[];
  policy: AlertPolicy;
  /** Per check name, a policy that replaces `policy` for that check's results. */
  policies?: Readonly<Record<string, AlertPolicy>>;
  maintenance: readonly MaintenanceWindow[];
  /** Base URL of RUNBOOK.md; alerts link `<base>#<check>`. */
  runbookUrl: string;
  retry: RetryPolicy;
  log: Logger;
  onSent?: (provider: string, kind: AlertKind) => void;
  onFailed?: (provider: string, kind: AlertKind) => void;
  now?: () => Date;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Feeds check results to one state machine per provider and check target, and delivers what they decide.
 * A failed delivery is retried with backoff; if it still fails, the state stays as it was, so the next
 * result decides to send it again: an alert is late rather than lost.
 */
export class Alerter {
  private readonly queues = new Map<string, Promise<void>>();
  private readonly now: () => Date;

  constructor(private readonly o: AlerterOptions) {
    this.now = o.now ?? (() => new Date());
  }

  /** Resolves once every provider has handled the result (delivered, or given up until the next result). */
  handle(result: CheckResult): Promise<void> {
    return Promise.all(this.o.providers.map((p) => this.enqueue(`${p.name}/${result.check}/${result.target}`, () => this.handleFor(p, `${p.name}/${result.check}/${result.target}`, result)))).then(() => undefined);
  }

  private enqueue(key: string, job: () => Promise<void>): Promise<void> {
    const next = (this.queues.get(key) ?? Promise.resolve()).then(job);
    this.queues.set(key, next.catch(() => undefined));
    return next;
  }

  private async handleFor(provider: AlertProvider, key: string, result: CheckResult): Promise<void> {
    const prev = this.o.store.get(key) ?? INITIAL;
    const silenced = inMaintenance(this.o.maintenance, result.check, this.now());
    const { state, send } = evaluate(prev, result, this.o.policies?.[result.check] ?? this.o.policy, silenced);
    if (send === undefined) {
      if (JSON.stringify(state) !== JSON.stringify(prev)) this.o.store.set(key, state);
      return;
    }
    const event: AlertEvent = {
      kind: send,
      host: this.o.host,
      check: result.check,
      target: result.target,
      severity: send === 'resolved' ? 'ok' : result.status === 'critical' ? 'critical' : 'warn',
      message: result.message,
      values: result.values,
      since: state.since ?? result.at,
      at: this.now().toISOString(),
      runbook: runbookLink(this.o.runbookUrl, result.check),
    };
    const fields = { provider: provider.name, check: result.check, target: result.target, kind: send, severity: event.severity };
    const r = this.o.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        await provider.send(event);
        this.o.store.set(key, markSent(state, send, result.status, event.at));
        this.o.onSent?.(provider.name, send);
        this.o.log.info({ ...fields, attempt }, 'alert sent');
        return;
      } catch (error) {
        this.o.onFailed?.(provider.name, send);
        const last = attempt >= r.attempts;
        this.o.log[last ? 'error' : 'warn']({ ...fields, attempt, err: (error as Error).message }, last ? 'alert not delivered; it is sent again after the next check result' : 'alert delivery failed; retrying');
        if (last) {
          this.o.store.set(key, state);
          return;
        }
        await sleep(Math.min(r.maxDelayMs, r.initialDelayMs * 2 ** (attempt - 1)));
      }
    }
  }
}
