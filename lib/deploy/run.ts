import type { DeployMarker } from '../alerting/deploy-marker.js';
import type { HostSecrets, ResolvedHost } from '../inventory/index.js';
import { auditScript, DEPLOY_LOG, operator as by } from '../host/index.js';
import { Phases } from '../report/phases.js';
import type { Runner } from '../runner/runner.js';
import { deployMarkerScript } from './commands.js';
import type { DeployOptions, DeployReport, Timing } from './engine.js';
import { acquireLock, type HeldLock, type Intent } from './lock.js';
import { Interrupted } from './interrupt.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One deploy or rollback of one host: its report and phases, and its marks on the host (the lock, the deploy
 * marker, the audit line). The phases themselves (prepare.ts, gate.ts, retire.ts, failure.ts) are given a Run.
 */
export class Run {
  readonly report: DeployReport;
  private readonly phases: Phases;
  private lock: HeldLock | undefined;
  /** When this run first wrote the deploy marker. */
  private deployFrom: string | undefined;

  constructor(readonly host: ResolvedHost, readonly secrets: HostSecrets, readonly opts: DeployOptions, readonly main: Runner, private readonly holder: Runner, readonly timing: Timing) {
    // The lock's record names the phase that holds it.
    this.phases = new Phases(host.name, opts.onProgress, async (phase) => this.lock?.phase(phase));
    this.report = { host: host.name, action: opts.action, status: 'ok', phases: this.phases.list, pruned: [], ms: 0 };
  }

  phase<T>(name: string, fn: () => Promise<T | { value: T; detail: string }>): Promise<T> {
    return this.phases.run(name, fn);
  }

  skip(name: string, detail: string): void {
    this.phases.skip(name, detail);
  }

  /** Waits, or less when a signal arrives (the drain, which goes on after the first one: the second). */
  pause(ms: number, wakeAt = 1): Promise<void> {
    return this.opts.interrupt?.sleep(ms, wakeAt) ?? sleep(ms);
  }

  /** A signal arrived: stop here, before `what`, with the outcome the caller decides (see runDeploy). */
  stopIfInterrupted(what: string, status: 'failed' | 'refused' = 'failed'): void {
    const i = this.opts.interrupt;
    if (i?.signal !== undefined) throw new Interrupted(i.signal, `interrupted by ${i.signal} ${what}`, status);
  }

  async takeLock(): Promise<void> {
    this.lock = await this.phase('lock', async () => {
      const l = await acquireLock(this.main, this.holder, this.host, { by: by(), action: this.opts.action, force: this.opts.forceUnlock === true });
      return { value: l, detail: l.broke !== undefined ? `broke a stale lock (${l.broke.action ?? 'deploy'} by ${l.broke.by ?? '?'} at ${l.broke.at ?? '?'}, phase ${l.broke.phase ?? '?'})` : 'taken' };
    });
  }

  async releaseLock(): Promise<void> {
    await this.lock?.release().catch(() => undefined);
  }

  get brokeLock() {
    return this.lock?.broke;
  }

  /** What this deploy is about to do, in the lock record from the next phase on: what a repair after a kill reads. */
  intent(fields: Intent): void {
    this.lock?.intent(fields);
  }

  /**
   * Tells the health daemon a deploy is restarting the app (its alerts wait, PM2's restarts are not a crash loop):
   * until the budget of a start, its gate, the watch and the old release's drain, then until now once done.
   */
  async markDeploy(id: string, done = false): Promise<void> {
    const t = this.timing;
    const from = this.deployFrom ?? new Date().toISOString();
    this.deployFrom = from;
    const until = new Date(Date.now() + (done ? 0 : 2 * t.gateTimeoutMs + t.watchMs + t.drainWaitMs + this.host.pm2.killTimeoutMs + 120_000)).toISOString();
    const marker: DeployMarker = { release: id, by: by(), from, until };
    await this.main.script(deployMarkerScript(this.host, marker), { root: true, allowFailure: true, summary: done ? 'end the deploy marker' : 'write the deploy marker' });
  }

  async audit(extra: Record<string, unknown>): Promise<void> {
    const r = this.report;
    const record = {
      host: r.host, action: r.action, status: r.status, release: r.release, from: r.from, serving: r.serving, ms: r.ms,
      phase: r.phases.find((p) => p.status === 'failed')?.phase, error: r.error, check: r.check, logs: r.logs, pruned: r.pruned.length > 0 ? r.pruned : undefined, interrupted: r.interrupted, repaired: r.repaired, ...extra,
    };
    await this.main.script(auditScript(DEPLOY_LOG, record), { root: true, summary: 'write the deploy audit log' });
  }
}
