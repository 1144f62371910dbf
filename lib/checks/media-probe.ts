import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { parseTurnUrl, turnPathName } from '../turn/url.js';
import type { MediaProbeOptions } from './media-call.js';
import type { Check, Outcome } from './result.js';

export type { MediaProbeOptions } from './media-call.js';

const WORKER_ROLE = 'rtcops-media-probe';
type WorkerInput = { role: typeof WORKER_ROLE; options: MediaProbeOptions };

// This module is also the worker's entry: as a file under tsx or dist/, or inside the daemon's esbuild bundle.
// werift (~35 MB resident) is loaded there only, never on the daemon's main thread.
if (!isMainThread && (workerData as Partial<WorkerInput> | null)?.role === WORKER_ROLE) {
  const { MediaCalls } = await import('./media-call.js');
  parentPort?.postMessage(await new MediaCalls((workerData as WorkerInput).options).run());
}

/** The targets a probe with these options reports on: direct, then relay:<transport> per relay URL. */
export function mediaProbeTargets(o: Pick<MediaProbeOptions, 'relayUrls'>): string[] {
  return ['direct', ...o.relayUrls.map((u) => `relay:${turnPathName(parseTurnUrl(u))}`)];
}

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
    const input: WorkerInput = { role: WORKER_ROLE, options: this.o };
    const worker = new Worker(new URL(import.meta.url), { workerData: input });
    return new Promise<Outcome[]>((resolve, reject) => {
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      worker.once('message', (outcomes: Outcome[]) => resolve(outcomes));
      worker.once('error', (error) => reject(new Error(`the probe's worker thread failed: ${error.message}`)));
      worker.once('exit', (code) => reject(new Error(`the probe's worker thread exited (${code}) without a result`)));
    }).finally(() => void worker.terminate());
  }
}
