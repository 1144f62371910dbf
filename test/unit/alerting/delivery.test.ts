import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeliveryGate, parseRetryAfter } from '../../../lib/alerting/delivery.js';

describe('Retry-After', () => {
  const now = Date.parse('2026-11-22T10:00:00Z');
  const cases: [string, string | string[] | undefined, number | undefined][] = [
    ['delay-seconds', '30', 30_000],
    ['zero', '0', 0],
    ['an HTTP date', 'Sun, 22 Nov 2026 10:00:05 GMT', 5000],
    ['a date in the past waits nothing', 'Sun, 22 Nov 2026 09:00:00 GMT', 0],
    ['absent', undefined, undefined],
    ['garbage', 'soon', undefined],
    ['the first of several', ['2', '9'], 2000],
  ];
  for (const [name, value, ms] of cases) it(`${name} → ${String(ms)}`, () => assert.equal(parseRetryAfter(value, now), ms));
});

describe('delivery gate: back-off across sends, pacing, Retry-After', () => {
  const gate = () => {
    let t = 0;
    const g = new DeliveryGate({ initialDelayMs: 1000, maxDelayMs: 5000, minIntervalMs: 200 }, () => t);
    return { g, at: (ms: number) => { t = ms; } };
  };

  it('doubles per failure in a row, capped; a success resets it', () => {
    const { g } = gate();
    assert.deepEqual([g.failed(), g.failed(), g.failed(), g.failed(), g.failed()], [1000, 2000, 4000, 5000, 5000]);
    g.succeeded();
    assert.equal(g.failed(), 1000);
  });

  it('blocked until the back-off ends, then spaced by minIntervalMs after a send', () => {
    const { g, at } = gate();
    g.failed();
    assert.deepEqual(g.waitMs(), { ms: 1000, backingOff: true });
    at(1000);
    assert.deepEqual(g.waitMs(), { ms: 0, backingOff: false });
    g.succeeded();
    at(1050);
    assert.deepEqual(g.waitMs(), { ms: 150, backingOff: false });
  });

  it('Retry-After replaces the back-off, at least minIntervalMs, at most an hour', () => {
    const { g } = gate();
    assert.equal(g.failed(30_000), 30_000);
    assert.equal(g.failed(0), 200);
    assert.equal(g.failed(86_400_000), 3_600_000);
  });
});
