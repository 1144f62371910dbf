/** One line of the doctor's report: what was checked, for which host (null: the operator's machine), and what to do. */
export type DoctorStatus = 'ok' | 'warn' | 'fail' | 'skipped';

export interface DoctorResult {
  /** Inventory host name; null for checks of the operator's machine and the inventory itself. */
  host: string | null;
  check: string;
  status: DoctorStatus;
  message: string;
  /** The command or edit that fixes it; null when there is nothing to do. Never holds a secret value. */
  fix: string | null;
}

export const ok = (host: string | null, check: string, message: string): DoctorResult => ({ host, check, status: 'ok', message, fix: null });
export const warn = (host: string | null, check: string, message: string, fix: string | null = null): DoctorResult => ({ host, check, status: 'warn', message, fix });
export const fail = (host: string | null, check: string, message: string, fix: string | null = null): DoctorResult => ({ host, check, status: 'fail', message, fix });
export const skipped = (host: string | null, check: string, message: string): DoctorResult => ({ host, check, status: 'skipped', message, fix: null });

/**
 * The first of `needs` (earlier checks of the same host) that failed or was itself skipped, as the reason a later
 * check is not attempted; undefined when every one passed (ok or warn).
 */
export function blockedBy(done: readonly DoctorResult[], needs: readonly string[]): string | undefined {
  for (const name of needs) {
    const r = done.find((d) => d.check === name);
    if (r === undefined) continue;
    if (r.status === 'fail') return `not attempted: ${name} failed`;
    if (r.status === 'skipped') return `not attempted: ${name} was skipped`;
  }
  return undefined;
}

export const hasFailure = (results: readonly DoctorResult[]): boolean => results.some((r) => r.status === 'fail');
