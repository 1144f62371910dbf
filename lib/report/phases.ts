/**
 * One vocabulary for long operations (provision, deploy, backup, restore): a run is timed phases on one host; each
 * phase sends a start and a done event, is kept in the report as a PhaseReport and prints as one progress line.
 */
export type PhaseStatus = 'ok' | 'failed' | 'skipped';

export interface PhaseReport {
  phase: string;
  status: PhaseStatus;
  ms: number;
  detail?: string;
}

export interface ProgressEvent {
  host: string;
  /** The phase (a provisioning step); a nested run's phases are prefixed: `provision/tls`, `releases/gate`. */
  phase: string;
  state: 'start' | 'done';
  /** changed: a provisioning step that changed the host; would change: one that would, under --check. */
  status?: PhaseStatus | 'changed' | 'would change';
  /** How long it ran; absent for a phase that did not run (skipped). */
  ms?: number;
  detail?: string;
}

export type Progress = (e: ProgressEvent) => void;

export const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** The one progress line: `[host] phase …` (or its news) then `[host] phase ok (1.2s): detail`. */
export function progressLine(e: ProgressEvent): string {
  if (e.state === 'start') return `[${e.host}] ${e.phase} ${e.detail ?? '…'}`;
  return `[${e.host}] ${e.phase} ${e.status ?? 'done'}${e.ms !== undefined ? ` (${secs(e.ms)})` : ''}${e.detail !== undefined ? `: ${e.detail}` : ''}`;
}

/** A run inside a phase reports under it: restore's `provision/tls`, `releases/gate`. */
export const nested = (progress: Progress | undefined, prefix: string): Progress => (e) => progress?.({ ...e, phase: `${prefix}/${e.phase}` });

/** A failure that stops a run with the status its report gets, a hint, and (a deploy's gate) the failing check's response. */
export class Stop<S extends string = string> extends Error {
  constructor(readonly status: S, message: string, readonly hint?: string, readonly check?: unknown) {
    super(message);
  }
}

/** A report says what stopped its run: the error's message, and its fix when the error carries one (RemoteError, Stop, ArchiveError, ...). */
export function recordError(report: { error?: string; hint?: string }, err: unknown): void {
  report.error = (err as Error).message;
  const hint = (err as { hint?: unknown }).hint;
  if (typeof hint === 'string') report.hint = hint;
}

export class Phases {
  readonly list: PhaseReport[] = [];
  /** `beforeEach` runs before a phase starts, and before its progress line (a deploy's lock record names the phase first: what a repair after a kill reads). */
  constructor(private readonly host: string, private readonly progress: Progress = () => undefined, private readonly beforeEach?: (phase: string) => Promise<void>) {}

  /** Runs one phase; its function may return `{ value, detail }` to say what it did. */
  async run<T>(phase: string, fn: () => Promise<T | { value: T; detail: string }>): Promise<T> {
    const t0 = Date.now();
    await this.beforeEach?.(phase);
    this.progress({ host: this.host, phase, state: 'start' });
    try {
      const r = await fn();
      const wrapped = r !== null && typeof r === 'object' && 'detail' in r && 'value' in r ? r : { value: r as T, detail: undefined };
      this.done({ phase, status: 'ok', ms: Date.now() - t0, ...(wrapped.detail !== undefined ? { detail: wrapped.detail } : {}) }, true);
      return wrapped.value as T;
    } catch (err) {
      this.done({ phase, status: 'failed', ms: Date.now() - t0, detail: (err as Error).message }, true);
      throw err;
    }
  }

  /** A phase that did not run: in the report and as a line, saying why. */
  skip(phase: string, detail: string): void {
    this.done({ phase, status: 'skipped', ms: 0, detail }, false);
  }

  private done(p: PhaseReport, ran: boolean): void {
    this.list.push(p);
    this.progress({ host: this.host, phase: p.phase, state: 'done', status: p.status, ...(ran ? { ms: p.ms } : {}), ...(p.detail !== undefined ? { detail: p.detail } : {}) });
  }
}
