/**
 * When a provider may be called next: at most one send per `minIntervalMs` (Slack takes about one message per second
 * per webhook), and after a failed send not before a back-off that doubles with each failure in a row, across
 * results and alerts, or what the destination asked for (429 / Retry-After).
 */
export interface BackoffPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  minIntervalMs: number;
}

export class DeliveryGate {
  private failures = 0;
  private blockedUntil = 0;
  private lastSentAt = -Infinity;

  constructor(private readonly p: BackoffPolicy, private readonly clock: () => number = () => performance.now()) {}

  /** Milliseconds until a send is allowed: blocked (back-off), or just spaced (pacing). */
  waitMs(): { ms: number; backingOff: boolean } {
    const now = this.clock();
    if (this.blockedUntil > now) return { ms: this.blockedUntil - now, backingOff: true };
    return { ms: Math.max(0, this.lastSentAt + this.p.minIntervalMs - now), backingOff: false };
  }

  succeeded(): void {
    this.failures = 0;
    this.lastSentAt = this.clock();
  }

  /** Records a failure; returns how long the provider now waits. */
  failed(retryAfterMs?: number): number {
    this.failures++;
    const backoff = Math.min(this.p.maxDelayMs, this.p.initialDelayMs * 2 ** (this.failures - 1));
    // The destination's own Retry-After wins, within an hour: a broken header must not silence alerts for a day.
    const delay = retryAfterMs === undefined ? backoff : Math.min(Math.max(retryAfterMs, this.p.minIntervalMs), 3_600_000);
    this.lastSentAt = this.clock();
    this.blockedUntil = this.clock() + delay;
    return delay;
  }
}

/** Retry-After as RFC 9110 spells it: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
