import { Stop } from '../report/phases.js';

/**
 * Signals during a deploy (Ctrl-C, a CI job's cancel, a terminal closing). A deploy stopped half-way leaves a host no
 * one decided about, so the first signal asks it to finish its decision instead: a release not yet verified is stopped
 * (before the switch) or switched away from (during the watch); a verified one is kept. A second signal during the
 * old release's drain cuts the drain short. The deploy then releases its lock and records the outcome.
 */
export class Interrupt {
  /** The first signal that arrived. */
  signal: string | undefined;
  count = 0;
  private readonly waiters = new Set<() => void>();

  trigger(signal: string): void {
    this.count++;
    this.signal ??= signal;
    for (const wake of [...this.waiters]) wake();
  }

  get requested(): boolean {
    return this.count > 0;
  }

  /** Waits ms, or less: until `wakeAt` signals have arrived (at once if they already have). */
  sleep(ms: number, wakeAt = 1): Promise<void> {
    if (this.count >= wakeAt) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const wake = () => { if (this.count >= wakeAt) done(); };
      const timer = setTimeout(done, ms);
      this.waiters.add(wake);
    });
  }
}

/** The deploy was interrupted before its release was verified: not a failure of the release (it is not marked failed). */
export class Interrupted extends Stop {
  /** status: `refused` before anything started, else `failed` (the caller then stops or switches back). */
  constructor(readonly signal: string, message: string, status: 'failed' | 'refused' = 'failed') {
    super(status, message);
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Installs the process's handlers for a deploy: the first signal interrupts (the deploy finishes its decision), the
 * second cuts a drain short, the third exits at once (exit 130), leaving the host as it is and its lock held.
 */
export function interruptOnSignals(say: (line: string) => void): { interrupt: Interrupt; dispose: () => void } {
  const interrupt = new Interrupt();
  const on = (signal: string) => {
    interrupt.trigger(signal);
    if (interrupt.count === 1) {
      say(`${signal}: finishing this deploy's decision before exiting: a release not yet verified is stopped or switched away from, a verified one is kept; the lock is released and the outcome recorded. Send it twice more to exit at once.`);
    } else if (interrupt.count === 2) {
      say(`${signal} again: an old release still draining is stopped now (its callers reconnect to the new one); once more exits at once.`);
    } else {
      say(`${signal} a third time: exiting now. The host is left as it is, with its deploy lock held: run scripts/releases.mjs <host> to see it, and deploy again with --force-unlock.`);
      process.exit(130);
    }
  };
  for (const s of SIGNALS) process.on(s, on);
  return { interrupt, dispose: () => { for (const s of SIGNALS) process.off(s, on); } };
}
