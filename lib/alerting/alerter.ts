import type { Logger } from 'pino';
import type { CheckResult } from '../checks/result.js';
import { alertId, heldBehind, rootCause, type CauseRule } from './causes.js';
import { DeliveryGate, type BackoffPolicy } from './delivery.js';
import { inMaintenance, type MaintenanceWindow } from './maintenance.js';
import { DeliveryError, type AlertProvider } from './providers/provider.js';
import { evaluate, INITIAL, markSent, runbookLink, type AlertEvent, type AlertKind, type AlertPolicy, type AlertState } from './state-machine.js';
import type { AlertStore } from './store.js';

export interface AlerterOptions {
  host: string;
  store: AlertStore;
  providers: AlertProvider[];
  policy: AlertPolicy;
  /** Per check name, a policy that replaces `policy` for that check's results. */
  policies?: Readonly<Record<string, AlertPolicy>>;
  maintenance: readonly MaintenanceWindow[];
  /** Windows that come and go while the daemon runs (a deploy's marker file), read at every result. */
  extraMaintenance?: () => readonly MaintenanceWindow[];
  /** Which alerts are held behind which causes (lib/alerting/causes.ts); none when absent. */
  causes?: readonly CauseRule[];
  /** Base URL of RUNBOOK.md; alerts link `<base>#<check>`. */
  runbookUrl: string;
  backoff: BackoffPolicy;
  log: Logger;
  onSent?: (provider: string, kind: AlertKind) => void;
  onFailed?: (provider: string, kind: AlertKind) => void;
  now?: () => Date;
}

/** A decided, not yet delivered alert: the state machine's latest decision for its key. */
interface Pending {
  key: string;
  event: AlertEvent;
  status: CheckResult['status'];
}

/** One provider's undelivered alerts, its back-off and pacing, and the one send it has in flight. */
class Outbox {
  readonly pending = new Map<string, Pending>();
  readonly gate: DeliveryGate;
  chain: Promise<void> = Promise.resolve();
  timer: NodeJS.Timeout | undefined;
  constructor(readonly provider: AlertProvider, backoff: BackoffPolicy) {
    this.gate = new DeliveryGate(backoff);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Feeds check results to one state machine per provider and check target, and delivers what they decide. A failed
 * delivery backs the provider off (doubling per failure in a row, across results; a 429's Retry-After wins); the
 * alert stays pending and goes out when the back-off ends, or the next result decides again. Counters are stored at
 * once, `triggered` only after delivery: an alert is late rather than lost, and never sent twice.
 */
export class Alerter {
  private readonly queues = new Map<string, Promise<void>>();
  private readonly outboxes: Outbox[];
  private readonly now: () => Date;
  private stopped = false;

  constructor(private readonly o: AlerterOptions) {
    this.now = o.now ?? (() => new Date());
    this.outboxes = o.providers.map((p) => new Outbox(p, o.backoff));
  }

  /** Resolves once every provider has handled the result: delivered, or pending behind its back-off. */
  handle(result: CheckResult): Promise<void> {
    return Promise.all(this.outboxes.map((box) => {
      const key = `${box.provider.name}/${result.check}/${result.target}`;
      return this.enqueue(key, () => this.decide(box, key, result));
    })).then(() => undefined);
  }

  /** Stop the back-off timers (the daemon is stopping; pending alerts are decided again after a restart). */
  stop(): void {
    this.stopped = true;
    for (const box of this.outboxes) clearTimeout(box.timer);
  }

  private enqueue(key: string, job: () => Promise<void>): Promise<void> {
    const next = (this.queues.get(key) ?? Promise.resolve()).then(job);
    this.queues.set(key, next.catch(() => undefined));
    return next;
  }

  private async decide(box: Outbox, key: string, result: CheckResult): Promise<void> {
    const prev = this.o.store.get(key) ?? INITIAL;
    const windows = [...this.o.maintenance, ...(this.o.extraMaintenance?.() ?? [])];
    const silenced = inMaintenance(windows, result.check, this.now());
    const id = alertId(result.check, result.target);
    const states = this.statesOf(box);
    const cause = rootCause(this.o.causes ?? [], id, states);
    const { state, send } = evaluate(prev, result, this.o.policies?.[result.check] ?? this.o.policy, silenced, cause);
    if (JSON.stringify(state) !== JSON.stringify(prev)) this.o.store.set(key, state);
    box.pending.delete(key);
    if (send === undefined) return;
    box.pending.set(key, { key, status: result.status, event: {
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
      ...(send === 'resolved' ? {} : { affected: heldBehind(id, states) }),
    } });
    await this.flush(box);
  }

  /** One destination's alerts by `check/target`. */
  private statesOf(box: Outbox): Map<string, AlertState> {
    const prefix = `${box.provider.name}/`;
    return new Map(this.o.store.entries().filter(([k]) => k.startsWith(prefix)).map(([k, s]) => [k.slice(prefix.length), s]));
  }

  /** Send what is pending, one at a time and paced, until it is sent or the provider backs off. */
  private flush(box: Outbox): Promise<void> {
    box.chain = box.chain.then(async () => {
      for (;;) {
        const next = box.pending.values().next();
        if (next.done === true || this.stopped) return;
        const wait = box.gate.waitMs();
        if (wait.backingOff) {
          this.retryLater(box, wait.ms);
          return;
        }
        if (wait.ms > 0) await sleep(wait.ms);
        await this.deliver(box, next.value);
      }
    });
    return box.chain;
  }

  private retryLater(box: Outbox, ms: number): void {
    clearTimeout(box.timer);
    box.timer = setTimeout(() => void this.flush(box), ms);
    box.timer.unref();
  }

  private async deliver(box: Outbox, p: Pending): Promise<void> {
    const fields = { provider: box.provider.name, check: p.event.check, target: p.event.target, kind: p.event.kind, severity: p.event.severity };
    try {
      await box.provider.send(p.event);
    } catch (error) {
      const delay = box.gate.failed(error instanceof DeliveryError ? error.retryAfterMs : undefined);
      this.o.onFailed?.(box.provider.name, p.event.kind);
      this.o.log.warn({ ...fields, err: (error as Error).message, retryInMs: Math.round(delay) }, 'alert delivery failed; it stays pending and is retried after the back-off');
      return;
    }
    box.gate.succeeded();
    // A result decided while this was in flight can only have decided the same again (the state was not yet marked).
    box.pending.delete(p.key);
    this.o.store.set(p.key, markSent(this.o.store.get(p.key) ?? INITIAL, p.event.kind, p.status, p.event.at));
    this.o.onSent?.(box.provider.name, p.event.kind);
    this.o.log.info(fields, 'alert sent');
  }
}
