import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { Alerter } from '../lib/alerting/alerter.js';
import type { ScheduledCheck } from '../lib/checks/index.js';
import { runCheck, type CheckResult } from '../lib/checks/result.js';
import type { DaemonMetrics } from './metrics.js';

/** Runs each check on its own cron schedule (never two runs of one check at once) and feeds the alerter. */
export class Scheduler {
  private readonly tasks: ScheduledTask[] = [];
  private readonly running = new Map<string, Promise<CheckResult[]>>();
  readonly latest = new Map<string, CheckResult>();

  constructor(private readonly checks: ScheduledCheck[], private readonly alerter: Alerter, private readonly metrics: DaemonMetrics, private readonly log: Logger) {}

  /** Run one check now, unless a run of it is still going (then wait for that one). */
  runOnce(name: string): Promise<CheckResult[]> {
    const inFlight = this.running.get(name);
    if (inFlight !== undefined) {
      this.log.warn({ check: name }, 'previous run still going; this run is skipped');
      return inFlight;
    }
    const sc = this.checks.find((c) => c.check.name === name);
    if (sc === undefined) return Promise.reject(new Error(`no check named ${name}`));
    const run = (async () => {
      const results = await runCheck(sc.check, sc.timeoutMs);
      this.metrics.record(results);
      for (const r of results) {
        this.latest.set(`${r.check}/${r.target}`, r);
        this.log[r.status === 'critical' ? 'warn' : 'info']({ check: r.check, target: r.target, status: r.status, durationMs: r.durationMs, values: r.values }, r.message);
      }
      await Promise.all(results.map((r) => this.alerter.handle(r)));
      return results;
    })().finally(() => this.running.delete(name));
    this.running.set(name, run);
    return run;
  }

  runAll(): Promise<CheckResult[][]> {
    return Promise.all(this.checks.map((c) => this.runOnce(c.check.name).catch((error: unknown) => {
      this.log.error({ check: c.check.name, err: (error as Error).message }, 'check run failed');
      return [];
    })));
  }

  start(): void {
    for (const c of this.checks) {
      const task = cron.schedule(c.schedule, () => this.runOnce(c.check.name).then(() => undefined, (error: unknown) => {
        this.log.error({ check: c.check.name, err: (error as Error).message }, 'check run failed');
      }), { name: c.check.name, noOverlap: true });
      this.tasks.push(task);
    }
  }

  /** Stop scheduling and wait for runs in flight. */
  async stop(): Promise<void> {
    await Promise.all(this.tasks.map((t) => t.destroy()));
    await Promise.allSettled([...this.running.values()]);
  }
}
