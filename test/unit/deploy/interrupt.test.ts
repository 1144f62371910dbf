import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deploySummary } from '../../../lib/deploy/command.js';
import type { DeployReport } from '../../../lib/deploy/engine.js';
import { Interrupt } from '../../../lib/deploy/interrupt.js';

describe('Interrupt: what a deploy waits on while signals arrive', () => {
  test('a wait ends at the signal, or at once when it already came; the drain waits for the second one', async () => {
    const i = new Interrupt();
    const t0 = Date.now();
    setTimeout(() => i.trigger('SIGINT'), 20);
    await i.sleep(10_000);
    assert.ok(Date.now() - t0 < 5_000, 'woken by the signal');
    assert.deepEqual([i.signal, i.count, i.requested], ['SIGINT', 1, true]);
    const t1 = Date.now();
    await i.sleep(10_000);
    assert.ok(Date.now() - t1 < 100, 'already interrupted: no wait');
    let woke = false;
    const second = i.sleep(10_000, 2).then(() => { woke = true; });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(woke, false, 'the first signal does not end a wait for the second');
    i.trigger('SIGTERM');
    await second;
    assert.deepEqual([i.signal, i.count], ['SIGINT', 2], 'the first signal is the one reported');
  });

  test('without a signal a wait lasts its time', async () => {
    const t0 = Date.now();
    await new Interrupt().sleep(50);
    assert.ok(Date.now() - t0 >= 45);
  });
});

describe('the deploy summary says what an interrupted deploy decided, and when its alert was not sent', () => {
  const base: DeployReport = { host: 'sfu-1', action: 'deploy', status: 'ok', release: 'R3', from: 'R2', serving: 'R3', phases: [], pruned: [], ms: 4200 };
  test('interrupted during the watch: not kept, what serves, and why; counted as failed', () => {
    const text = deploySummary([{ ...base, status: 'rolled-back', serving: 'R2', interrupted: 'SIGINT', error: 'interrupted by SIGINT during the watch of R3', hint: 'nothing failed: deploy it again' }], ['sfu-2']);
    assert.match(text, /^sfu-1: INTERRUPTED by SIGINT: R3 not kept, R2 serves in 4\.2s$/m);
    assert.match(text, /^ {2}why: interrupted by SIGINT during the watch of R3$/m);
    assert.match(text, /^ {2}next: nothing failed/m);
    assert.match(text, /^not attempted \(interrupted\): sfu-2$/m);
    assert.match(text, /^failed on: sfu-1$/m);
  });
  test('interrupted after it was verified: kept', () => {
    assert.match(deploySummary([{ ...base, interrupted: 'SIGTERM' }], []), /^sfu-1: deployed R3 \(was R2\) \(SIGTERM arrived after it was verified: kept\)/m);
  });
  test('an alert that could not be sent is said, without the webhook', () => {
    const text = deploySummary([{ ...base, status: 'rolled-back', serving: 'R2', error: 'health gate failed', alertError: 'slack: HTTP 500' }], []);
    assert.match(text, /the alert about it was NOT sent \(slack: HTTP 500\): tell the team yourself/);
  });
});
