import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckResult, Status } from '../../../lib/checks/result.js';
import { hostReachability } from '../../../lib/checks/watch.js';
import { exampleHost } from '../../fixtures/inventories/hosts.js';

const r = (id: string, status: Status): CheckResult => {
  const [check = '', target = ''] = id.split(' ');
  return { check, target, status, message: '', values: {}, durationMs: 1, at: '2026-12-03T10:00:00.000Z' };
};

describe('check.mjs --watch: is the host silent from outside?', () => {
  const cases: [string, CheckResult[], Status, RegExp][] = [
    ['everything fails', [r('tls-expiry a:443', 'critical'), r('turn udp', 'critical'), r('server https://a', 'critical')], 'critical', /^prod is silent from outside: all 3 probes failed/],
    ['one check answers', [r('tls-expiry a:443', 'critical'), r('turn udp', 'ok'), r('server https://a', 'critical')], 'ok', /answers from outside \(1\/3 probes ok\)/],
    ['only one check watched: its own alert says it', [r('server https://a', 'critical')], 'skipped', /not judged/],
    ['skipped probes do not count', [r('turn udp', 'critical'), r('server https://a', 'critical'), r('media-probe direct', 'skipped')], 'critical', /all 2 probes failed/],
  ];
  for (const [name, results, status, message] of cases) {
    it(`${name} → ${status}`, () => {
      const v = hostReachability(exampleHost('prod'), results);
      assert.deepEqual([v.check, v.target, v.status], ['host', 'prod', status]);
      assert.match(v.message, message);
    });
  }
});
