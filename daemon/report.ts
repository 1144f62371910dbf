import type { CheckResult } from './checks/result.js';

const MARK = { ok: 'OK', warn: 'WARN', critical: 'CRIT', skipped: 'N/A' } as const;

/** Results as a plain table: status, check, target, duration, message. */
export function formatTable(results: CheckResult[]): string {
  const rows = results.map((r) => [MARK[r.status], r.check, r.target, `${r.durationMs} ms`, r.message]);
  const header = ['STATUS', 'CHECK', 'TARGET', 'TIME', 'MESSAGE'];
  const widths = header.slice(0, 4).map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 4 ? c.padEnd(widths[i] ?? 0) : c)).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export const hasCritical = (results: CheckResult[]) => results.some((r) => r.status === 'critical');
