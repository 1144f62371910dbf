import { table } from '../report/table.js';
import type { DoctorResult, DoctorStatus } from './result.js';

const MARK: Record<DoctorStatus, string> = { ok: 'OK', warn: 'WARN', fail: 'FAIL', skipped: 'SKIP' };

/** One line per check: status, host ("-" for this machine), check, and the message with its fix. */
export function formatTable(results: readonly DoctorResult[]): string {
  return table(['STATUS', 'HOST', 'CHECK', 'MESSAGE'], results.map((r) => [MARK[r.status], r.host ?? '-', r.check, r.fix === null ? r.message : `${r.message} — fix: ${r.fix}`]));
}

/** `doctor: 9 ok, 1 warn, 1 fail`, and how many were skipped when any were. */
export function summaryLine(results: readonly DoctorResult[]): string {
  const count = (s: DoctorStatus) => results.filter((r) => r.status === s).length;
  const skipped = count('skipped');
  return `doctor: ${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail${skipped > 0 ? ` (${skipped} skipped)` : ''}`;
}

export function toJson(results: readonly DoctorResult[]): { ok: boolean; results: DoctorResult[] } {
  return { ok: !results.some((r) => r.status === 'fail'), results: results.map(({ host, check, status, message, fix }) => ({ host, check, status, message, fix })) };
}
