// Step-by-step progress lines for long operations ("which step, how long"), written to stderr.
import { secs } from '../report/phases.js';

export interface Progress {
  step<T>(label: string, run: () => Promise<T>): Promise<T>;
  note(message: string): void;
}

export function streamProgress(out: NodeJS.WritableStream = process.stderr, prefix = 'sandbox'): Progress {
  const started = Date.now();
  const stamp = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
  return {
    async step(label, run) {
      const t0 = Date.now();
      out.write(`[${prefix} ${stamp()}] ${label} ...\n`);
      try {
        const result = await run();
        out.write(`[${prefix} ${stamp()}] ${label}: done in ${secs(Date.now() - t0)}\n`);
        return result;
      } catch (error) {
        out.write(`[${prefix} ${stamp()}] ${label}: failed after ${secs(Date.now() - t0)}\n`);
        throw error;
      }
    },
    note(message) {
      out.write(`[${prefix} ${stamp()}]   ${message}\n`);
    },
  };
}

export const silentProgress: Progress = {
  step: (_label, run) => run(),
  note: () => {},
};
