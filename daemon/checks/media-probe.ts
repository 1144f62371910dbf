import { Worker } from 'node:worker_threads';
import { mediaProbeTargets, type MediaProbeOptions } from './media-call.js';
import type { Check, Outcome } from './result.js';

export type { MediaProbeOptions } from './media-call.js';

/**
 * The synthetic media probe (see media-call.ts), run in a worker thread that is terminated after every run:
 * werift keeps TURN refresh timers (~500 s) and, on some failures, sockets after its peers are closed, and a
 * timed-out call must really stop. Terminating the thread frees all of it.
 */
export class MediaProbeCheck implements Check {
  readonly name = 'media-probe';
  readonly targets: string[];

  constructor(private readonly o: MediaProbeOptions) {
    this.targets = mediaProbeTargets(o);
  }

  run(signal: AbortSignal): Promise<Outcome[]> {
    const worker = new Worker(new URL('./media-probe-worker.js', import.meta.url), { workerData: this.o });
    return new Promise<Outcome[]>((resolve, reject) => {
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      worker.once('message', (outcomes: Outcome[]) => resolve(outcomes));
      worker.once('error', (error) => reject(new Error(`the probe's worker thread failed: ${error.message}`)));
      worker.once('exit', (code) => reject(new Error(`the probe's worker thread exited (${code}) without a result`)));
    }).finally(() => void worker.terminate());
  }
}
