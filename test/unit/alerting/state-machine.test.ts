import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckResult, Status } from '../../../lib/checks/result.js';
import { evaluate, INITIAL, markSent, type AlertKind, type AlertPolicy, type AlertState } from '../../../lib/alerting/state-machine.js';

const policy: AlertPolicy = { failureThreshold: 3, successThreshold: 2, sendOnResolved: true, reminderIntervalMs: 60 * 60_000 };
const t0 = Date.parse('2026-11-22T10:00:00Z');

function result(status: Status, minute: number): CheckResult {
  return { check: 'disk', target: '/', status, message: `disk ${status}`, values: {}, durationMs: 1, at: new Date(t0 + minute * 60_000).toISOString() };
}

/** Feed a sequence of statuses (one per minute), delivering every send; return what was sent and when. */
function run(statuses: Status[], p: AlertPolicy = policy, opts: { failDeliveryAt?: number[]; silencedAt?: number[] } = {}): { sent: string[]; state: AlertState } {
  let state = INITIAL;
  const sent: string[] = [];
  statuses.forEach((status, minute) => {
    const r = result(status, minute);
    const d = evaluate(state, r, p, opts.silencedAt?.includes(minute) ?? false);
    state = d.state;
    if (d.send !== undefined && !(opts.failDeliveryAt?.includes(minute) ?? false)) {
      sent.push(`${minute}:${d.send}`);
      state = markSent(state, d.send, status, r.at);
    }
  });
  return { sent, state };
}

const F = 'critical' as const;
const W = 'warn' as const;
const O = 'ok' as const;
const S = 'skipped' as const;

describe('alert state machine (Gatus semantics)', () => {
  const cases: [string, Status[], string[], Partial<AlertPolicy>?, { failDeliveryAt?: number[]; silencedAt?: number[] }?][] = [
    ['failures below the threshold send nothing', [F, F, O, F, F, O], []],
    ['the third consecutive failure triggers once', [F, F, F, F, F], ['2:triggered']],
    ['a warning counts as a failure', [W, W, W], ['2:triggered']],
    ['resolved after two successes', [F, F, F, O, O, O], ['2:triggered', '4:resolved']],
    ['one success does not resolve; the streak restarts', [F, F, F, O, F, O, O], ['2:triggered', '6:resolved']],
    ['no resolved message when sendOnResolved is off', [F, F, F, O, O, F, F, F], ['2:triggered', '7:triggered'], { sendOnResolved: false }],
    ['warn then critical escalates once', [W, W, W, F, F], ['2:triggered', '3:escalated']],
    ['skipped results change nothing', [F, S, F, S, F], ['4:triggered']],
    ['a failed delivery is sent again with the next failure', [F, F, F, F, F], ['3:triggered'], {}, { failDeliveryAt: [2] }],
    ['a failed resolve is sent again with the next success', [F, F, F, O, O, O], ['2:triggered', '5:resolved'], {}, { failDeliveryAt: [4] }],
    ['silenced failures are counted but not sent', [F, F, F, F, F], ['4:triggered'], {}, { silencedAt: [2, 3] }],
    ['threshold 1 alerts on the first failure', [F, O], ['0:triggered', '1:resolved'], { failureThreshold: 1, successThreshold: 1 }],
  ];
  for (const [name, statuses, expected, p, opts] of cases) {
    it(name, () => assert.deepEqual(run(statuses, { ...policy, ...p }, opts).sent, expected));
  }

  it('reminds every reminder interval while still failing', () => {
    const minutes: Status[] = Array.from({ length: 130 }, () => F);
    assert.deepEqual(run(minutes, { ...policy, reminderIntervalMs: 60 * 60_000 }).sent, ['2:triggered', '62:reminder', '122:reminder']);
  });

  it('no reminders when the interval is 0', () => {
    assert.deepEqual(run(Array.from({ length: 200 }, () => F), { ...policy, reminderIntervalMs: 0 }).sent, ['2:triggered']);
  });

  it('remembers when the incident started, and forgets it once resolved', () => {
    const open = run([O, F, F, F]).state;
    assert.equal(open.since, new Date(t0 + 60_000).toISOString());
    assert.equal(open.triggered, true);
    assert.equal(run([F, F, F, O, O]).state.since, undefined);
    assert.equal(run([F, O]).state.since, undefined, 'a blip that never alerted leaves no incident behind');
  });

  it('triggered is set only by markSent', () => {
    const d = evaluate({ ...INITIAL, failures: 2 }, result(F, 0), policy, false);
    assert.equal(d.send satisfies AlertKind | undefined, 'triggered');
    assert.equal(d.state.triggered, false);
  });
});
