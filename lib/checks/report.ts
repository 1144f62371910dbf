import { table } from '../report/table.js';
import type { CheckResult } from './result.js';

const MARK = { ok: 'OK', warn: 'WARN', critical: 'CRIT', skipped: 'N/A' } as const;

/** The measured figures worth a glance: numbers and flags, not fingerprints or dates. */
export function keyValues(r: CheckResult, max = 4): string {
  return Object.entries(r.values).filter(([, v]) => typeof v === 'number' || typeof v === 'boolean').slice(0, max).map(([k, v]) => `${k}=${String(v)}`).join(' ');
}

/** Results as a plain table: status, check, target, duration, key values, message. */
export function formatTable(results: CheckResult[]): string {
  return table(['STATUS', 'CHECK', 'TARGET', 'TIME', 'VALUES', 'MESSAGE'], results.map((r) => [MARK[r.status], r.check, r.target, `${r.durationMs} ms`, keyValues(r), r.message]));
}

export const hasCritical = (results: CheckResult[]) => results.some((r) => r.status === 'critical');
