import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nested, Phases, progressLine, recordError, secs, Stop, type ProgressEvent } from '../../../lib/report/phases.js';
import { RemoteError } from '../../../lib/runner/errors.js';

describe('the one progress line: which step, which host, how long', () => {
  const cases: [ProgressEvent, string][] = [
    [{ host: 'prod', phase: 'packages', state: 'start' }, '[prod] packages …'],
    [{ host: 'prod', phase: 'drain', state: 'start', detail: '2 room(s), 3 peer(s) in calls' }, '[prod] drain 2 room(s), 3 peer(s) in calls'],
    [{ host: 'prod', phase: 'packages', state: 'done', status: 'changed', ms: 1234 }, '[prod] packages changed (1.2s)'],
    [{ host: 'prod', phase: 'gate', state: 'done', status: 'ok', ms: 3050, detail: 'healthz, readyz and signaling passed' }, '[prod] gate ok (3.0s): healthz, readyz and signaling passed'],
    [{ host: 'prod', phase: 'config', state: 'done', status: 'ok', ms: 0 }, '[prod] config ok (0.0s)'],
    [{ host: 'prod', phase: 'watch', state: 'done', status: 'skipped', detail: 'no watch period' }, '[prod] watch skipped: no watch period'],
    [{ host: 'prod', phase: 'facts', state: 'done', ms: 410, detail: 'debian 12' }, '[prod] facts done (0.4s): debian 12'],
    [{ host: 'prod', phase: 'provision/tls', state: 'done', status: 'failed', ms: 61_000, detail: 'certbot failed' }, '[prod] provision/tls failed (61.0s): certbot failed'],
  ];
  for (const [event, line] of cases) test(line, () => assert.equal(progressLine(event), line));

  test('secs: one decimal, in seconds', () => assert.deepEqual([0, 49, 940, 12_345].map(secs), ['0.0s', '0.0s', '0.9s', '12.3s']));
});

describe('Phases: each phase is timed, reported and announced', () => {
  test('a phase that returns { value, detail }: start, done ok with its time and detail, in the list', async () => {
    const events: ProgressEvent[] = [];
    const phases = new Phases('prod', (e) => events.push(e));
    assert.equal(await phases.run('connect', async () => ({ value: 42, detail: 'root@10.0.0.1' })), 42);
    assert.deepEqual(events.map((e) => [e.phase, e.state, e.status, e.detail]), [['connect', 'start', undefined, undefined], ['connect', 'done', 'ok', 'root@10.0.0.1']]);
    assert.equal(typeof events[1]?.ms, 'number');
    assert.deepEqual(phases.list.map((p) => [p.phase, p.status, p.detail]), [['connect', 'ok', 'root@10.0.0.1']]);
  });

  test('a failing phase is reported failed with the message, and the error goes on', async () => {
    const events: ProgressEvent[] = [];
    const phases = new Phases('prod', (e) => events.push(e));
    const stop = new Stop('refused', 'calls still running', 'use --now');
    await assert.rejects(phases.run('drain', async () => { throw stop; }), (e) => e === stop);
    assert.deepEqual(phases.list.map((p) => [p.phase, p.status, p.detail]), [['drain', 'failed', 'calls still running']]);
    assert.equal(events.at(-1)?.status, 'failed');
    assert.deepEqual([stop.status, stop.hint], ['refused', 'use --now']);
  });

  test('a skipped phase says why and has no time on its line', () => {
    const events: ProgressEvent[] = [];
    const phases = new Phases('prod', (e) => events.push(e));
    phases.skip('watch', 'no watch period');
    assert.deepEqual(phases.list, [{ phase: 'watch', status: 'skipped', ms: 0, detail: 'no watch period' }]);
    assert.equal(progressLine(events[0]!), '[prod] watch skipped: no watch period');
  });

  test('beforeEach runs before the start event and the phase (a deploy\'s lock record names the phase before anything says it started: what a kill leaves)', async () => {
    const seen: string[] = [];
    const phases = new Phases('prod', (e) => seen.push(`${e.state} ${e.phase}`), async (p) => { seen.push(`lock ${p}`); });
    await phases.run('switch', async () => { seen.push('run switch'); });
    assert.deepEqual(seen, ['lock switch', 'start switch', 'run switch', 'done switch']);
  });

  test('a nested run reports under its phase: provision/tls', () => {
    const events: ProgressEvent[] = [];
    nested((e) => events.push(e), 'provision')({ host: 'prod', phase: 'tls', state: 'start' });
    assert.deepEqual(events, [{ host: 'prod', phase: 'provision/tls', state: 'start' }]);
  });
});

describe('recordError: a report says what stopped the run, and the fix when the error has one', () => {
  const cases: [string, Error, { error?: string; hint?: string }][] = [
    ['a plain error: its message', new Error('socket hang up'), { error: 'socket hang up' }],
    ['a RemoteError: message and hint', new RemoteError('prod', 'sudo needs a password', 'allow passwordless sudo'), { error: 'sudo needs a password', hint: 'allow passwordless sudo' }],
    ['a Stop: message and hint', new Stop('refused', 'calls still running', 'use --now'), { error: 'calls still running', hint: 'use --now' }],
    ['a Stop without a hint: message only', new Stop('failed', 'gate failed'), { error: 'gate failed' }],
  ];
  for (const [what, err, want] of cases) {
    test(what, () => {
      const report: { error?: string; hint?: string } = {};
      recordError(report, err);
      assert.deepEqual(report, want);
    });
  }
});
