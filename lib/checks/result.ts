/** What every check returns: a named result; alerting decides what to do with it. */
export type Status = 'ok' | 'warn' | 'critical' | 'skipped';

export type Value = number | string | boolean | null;

export interface CheckResult {
  /** Stable check name, also the RUNBOOK.md anchor: tls-expiry, disk, system, turn, server, pm2, services, media-probe. */
  check: string;
  /** What was checked (a host:port, a mount, a transport); one alert per check and target. */
  target: string;
  status: Status;
  message: string;
  values: Record<string, Value>;
  durationMs: number;
  /** ISO time the check finished. */
  at: string;
}

export type Finding = Pick<CheckResult, 'status' | 'message' | 'values'>;

/** What a check's run() returns per target; the runner adds timing. */
export type Outcome = Omit<CheckResult, 'durationMs' | 'at'>;

const RANK: Record<Status, number> = { skipped: 0, ok: 1, warn: 2, critical: 3 };

export function worst(a: Status, b: Status): Status {
  return RANK[a] >= RANK[b] ? a : b;
}

export function isFailing(status: Status): status is 'warn' | 'critical' {
  return status === 'warn' || status === 'critical';
}

/** Grade a value against warn/critical thresholds (higher is worse). */
export function grade(value: number, warnAt: number, criticalAt: number): Status {
  return value >= criticalAt ? 'critical' : value >= warnAt ? 'warn' : 'ok';
}

/** Merge several findings about one target: the worst status, the failing messages first. */
export function combine(findings: Finding[], okMessage: string): Finding {
  const status = findings.reduce<Status>((s, f) => worst(s, f.status), 'ok');
  const failing = findings.filter((f) => isFailing(f.status)).map((f) => f.message);
  return {
    status,
    message: failing.length > 0 ? failing.join('; ') : okMessage,
    values: Object.assign({}, ...findings.map((f) => f.values)) as Record<string, Value>,
  };
}

export interface Check {
  /** Stable check name (see CheckResult.check). */
  readonly name: string;
  /** The targets it reports on, known from the config, so a timeout still lands on the right alerts. */
  readonly targets: readonly string[];
  /** One result per target. */
  run(signal: AbortSignal): Promise<Outcome[]>;
}

/** Run a check with a deadline; a timeout or a thrown error is itself a critical result. */
export async function runCheck(check: Check, timeoutMs: number): Promise<CheckResult[]> {
  const t0 = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
  });
  let results: Outcome[];
  try {
    results = await Promise.race([check.run(controller.signal), timeout]);
  } catch (error) {
    const message = `the check failed: ${(error as Error).message}`;
    results = check.targets.map((target) => ({ check: check.name, target, status: 'critical' as const, message, values: {} }));
  } finally {
    clearTimeout(timer);
  }
  const durationMs = Math.round(performance.now() - t0);
  const at = new Date().toISOString();
  return results.map((r) => ({ ...r, durationMs, at }));
}
