import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { restoreSummary, type RestoreReport } from '../../../lib/backup/restore.js';
import type { CheckResult } from '../../../lib/checks/result.js';

const result = (check: string, target: string, status: CheckResult['status'], message: string): CheckResult => ({ check, target, status, message, values: {}, durationMs: 1, at: '2026-12-03T00:00:00Z' });

const report = (results: CheckResult[], counts: { ok: number; warn: number; critical: number }): RestoreReport => ({
  host: 'prod', status: 'ok', archive: 'a.tar.gz', phases: [], notes: [], recoveryMs: 40_000,
  checks: { ...counts, skipped: 0, notJudged: ['system'], results },
});

describe('restore summary: the counts and the lines under them agree', () => {
  test('a critical system check right after the restore is listed apart, not under "0 critical"', () => {
    const text = restoreSummary(report([result('server', 'https://rtc', 'ok', 'up'), result('system', 'load', 'critical', 'load 9.1 on 2 cores')], { ok: 1, warn: 0, critical: 0 }));
    const [checks, ...rest] = text.split('\n').slice(text.split('\n').findIndex((l) => l.startsWith('  checks:')));
    assert.equal(checks, '  checks: 1 ok, 0 warn, 0 critical, 0 skipped');
    assert.equal(rest[0], '  not judged (system: the load right after the restore):');
    assert.equal(rest[1], '    critical system load: load 9.1 on 2 cores');
  });

  test('a judged warning is listed under the counts that include it', () => {
    const text = restoreSummary(report([result('tls-expiry', 'rtc:443', 'warn', 'expires in 9 days')], { ok: 0, warn: 1, critical: 0 }));
    assert.match(text, /  checks: 0 ok, 1 warn, 0 critical, 0 skipped\n    warn tls-expiry rtc:443: expires in 9 days\n/);
    assert.doesNotMatch(text, /not judged/);
  });
});
