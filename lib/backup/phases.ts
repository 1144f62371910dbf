/** Timed phases with progress events, shared by backup and restore. */
export type PhaseStatus = 'ok' | 'failed' | 'skipped';

export interface PhaseReport {
  phase: string;
  status: PhaseStatus;
  ms: number;
  detail?: string;
}

export interface ProgressEvent {
  host: string;
  phase: string;
  state: 'start' | 'done';
  status?: PhaseStatus;
  ms?: number;
  detail?: string;
}

export type Progress = (e: ProgressEvent) => void;

export const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

export class Phases {
  readonly list: PhaseReport[] = [];
  constructor(private readonly host: string, private readonly progress: Progress = () => undefined) {}

  /** Runs one phase; its function may return `{ value, detail }` to say what it did. */
  async run<T>(phase: string, fn: () => Promise<T | { value: T; detail: string }>): Promise<T> {
    const t0 = Date.now();
    this.progress({ host: this.host, phase, state: 'start' });
    try {
      const r = await fn();
      const wrapped = r !== null && typeof r === 'object' && 'detail' in r && 'value' in r ? r : { value: r as T, detail: undefined };
      this.done({ phase, status: 'ok', ms: Date.now() - t0, ...(wrapped.detail !== undefined ? { detail: wrapped.detail } : {}) });
      return wrapped.value as T;
    } catch (err) {
      this.done({ phase, status: 'failed', ms: Date.now() - t0, detail: (err as Error).message });
      throw err;
    }
  }

  skip(phase: string, detail: string): void {
    this.done({ phase, status: 'skipped', ms: 0, detail });
  }

  private done(p: PhaseReport): void {
    this.list.push(p);
    this.progress({ host: this.host, phase: p.phase, state: 'done', status: p.status, ms: p.ms, ...(p.detail !== undefined ? { detail: p.detail } : {}) });
  }
}

/** The one progress line format: `[host] phase …` then `[host] phase ok (1.2s): detail`. */
export function progressLine(e: ProgressEvent): string {
  if (e.state === 'start') return `[${e.host}] ${e.phase} ${e.detail ?? '…'}`;
  return `[${e.host}] ${e.phase} ${e.status ?? 'done'}${e.ms !== undefined && e.ms > 0 ? ` (${secs(e.ms)})` : ''}${e.detail !== undefined ? `: ${e.detail}` : ''}`;
}
