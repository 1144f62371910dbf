import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { ConnectionCounter, TokenBucket, clientIp } from '../../../server/limits.js';

const req = (remoteAddress: string, headers: Record<string, string> = {}) => ({ socket: { remoteAddress }, headers }) as unknown as IncomingMessage;

describe('client address', () => {
  const cases: [string, IncomingMessage, boolean, string][] = [
    ['direct peer, proxy not trusted', req('198.51.100.7', { 'x-real-ip': '203.0.113.1' }), false, '198.51.100.7'],
    ['behind nginx: X-Real-IP', req('127.0.0.1', { 'x-real-ip': '203.0.113.1' }), true, '203.0.113.1'],
    ['behind nginx: last X-Forwarded-For hop', req('127.0.0.1', { 'x-forwarded-for': '10.0.0.1, 203.0.113.2' }), true, '203.0.113.2'],
    ['spoofed header from a non-loopback peer is ignored', req('198.51.100.7', { 'x-real-ip': '203.0.113.1' }), true, '198.51.100.7'],
    ['garbage header falls back to the socket', req('127.0.0.1', { 'x-real-ip': 'not-an-ip' }), true, '127.0.0.1'],
  ];
  for (const [name, r, trust, want] of cases) it(name, () => assert.equal(clientIp(r, trust), want));
});

describe('message rate limit (token bucket)', () => {
  it('allows the burst, then the rate', () => {
    const b = new TokenBucket(10, 3, 0);
    assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
    assert.equal(b.take(100), true, 'one token refills after 100 ms at 10/s');
    assert.equal(b.take(100), false);
  });
  it('never saves up more than the burst', () => {
    const b = new TokenBucket(10, 2, 0);
    const taken = [b.take(60_000), b.take(60_000), b.take(60_000)];
    assert.deepEqual(taken, [true, true, false]);
  });
});

describe('connections per IP', () => {
  it('refuses past the limit and frees a slot on release', () => {
    const c = new ConnectionCounter(2);
    assert.deepEqual([c.tryAcquire('a'), c.tryAcquire('a'), c.tryAcquire('a'), c.tryAcquire('b')], [true, true, false, true]);
    c.release('a');
    assert.equal(c.tryAcquire('a'), true);
  });
});
