import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignalingClient, metricsText, startTestServer, token, type TestServer } from '../../helpers/server.js';

const unsigned = (claims: object) =>
  `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;

/** Attempts an upgrade; resolves with the HTTP status (101 when a socket was opened). */
async function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  try {
    const c = await SignalingClient.connect(url, { headers });
    await c.close();
    return 101;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
}

describe('JWT is checked before the WebSocket upgrade', () => {
  let s: TestServer;
  before(async () => { s = await startTestServer(); });
  after(() => s.stop());

  const claims = { sub: 'alice', room: 'standup' };
  const cases: [string, () => string, number, string | undefined][] = [
    ['valid token in the query', () => `?token=${token(claims)}`, 101, undefined],
    ['valid token and the same room asked for', () => `?room=standup&token=${token(claims)}`, 101, undefined],
    ['no token', () => '', 401, 'missing'],
    ['bad signature', () => `?token=${token(claims, {}, 'wrong-secret-wrong-secret-wrong-secret')}`, 401, 'bad_signature'],
    ['expired token', () => `?token=${token({ ...claims, exp: Math.floor(Date.now() / 1000) - 3600 })}`, 401, 'expired'],
    ['alg none', () => `?token=${unsigned({ ...claims, exp: Math.floor(Date.now() / 1000) + 60 })}`, 401, 'alg_not_allowed'],
    ['token for another room', () => `?room=board&token=${token(claims)}`, 401, 'wrong_room'],
    ['token expiring in the year 2999', () => `?token=${token({ ...claims, exp: 32472144000 })}`, 401, 'too_long_lived'],
    ['two different query tokens', () => `?token=${token(claims)}&token=${token({ ...claims, sub: 'bob' })}`, 401, 'conflicting_tokens'],
    ['a 10 KB token', () => `?token=${'a'.repeat(10_000)}`, 401, 'oversized'],
    ['a 100 KB token (past Node\'s header limit)', () => `?token=${'a'.repeat(100_000)}`, 431, 'oversized'],
  ];
  for (const [name, query, status, reason] of cases) {
    it(`${name} → ${status}`, async () => {
      const before = s.logs.length;
      assert.equal(await upgradeStatus(s.ws + query()), status);
      if (reason !== undefined) {
        const line = s.logs.slice(before).find((l) => l['event'] === 'auth_rejected');
        assert.ok(line, 'a rejected token is logged for fail2ban');
        assert.equal(line['reason'], reason);
        assert.equal(line['ip'], '127.0.0.1');
      }
    });
  }

  it('accepts the token in an Authorization: Bearer header', async () => {
    assert.equal(await upgradeStatus(s.ws, { authorization: `Bearer ${token(claims)}` }), 101);
  });

  it('refuses a bad Bearer header even when a valid ?token= is present', async () => {
    assert.equal(await upgradeStatus(`${s.ws}?token=${token(claims)}`, { authorization: 'Bearer nope' }), 401);
  });

  it('refuses a valid header token with a different valid query token (neither may silently win)', async () => {
    const before = s.logs.length;
    assert.equal(await upgradeStatus(`${s.ws}?token=${token({ ...claims, sub: 'mallory' })}`, { authorization: `Bearer ${token(claims)}` }), 401);
    assert.equal(s.logs.slice(before).find((l) => l['event'] === 'auth_rejected')?.['reason'], 'conflicting_tokens');
    const same = token(claims);
    assert.equal(await upgradeStatus(`${s.ws}?token=${same}`, { authorization: `Bearer ${same}` }), 101, 'the same token twice is fine');
  });

  it('a 100 KB token in the Authorization header gets 431 and an auth_rejected line', async () => {
    const before = s.logs.length;
    assert.equal(await upgradeStatus(s.ws, { authorization: `Bearer ${'a'.repeat(100_000)}` }), 431);
    const line = s.logs.slice(before).find((l) => l['event'] === 'auth_rejected');
    assert.deepEqual([line?.['reason'], line?.['ip']], ['oversized', '127.0.0.1']);
  });

  it('never logs the token itself', () => {
    const text = JSON.stringify(s.logs);
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(text), 'no JWT in the logs');
  });

  it('answers 404 for upgrades on other paths', async () => {
    assert.equal(await upgradeStatus(`ws://127.0.0.1:${s.port}/other?token=${token(claims)}`), 404);
  });

  it('counts attempts and failures by reason in /metrics', async () => {
    const text = await metricsText(s.http);
    assert.match(text, /rtcops_join_failures_total\{reason="expired"\} 1/);
    assert.match(text, /rtcops_join_failures_total\{reason="wrong_room"\} 1/);
    assert.match(text, /rtcops_join_successes_total 4/);
    assert.match(text, /rtcops_join_failures_total\{reason="oversized"\} 3/);
  });
});

describe('a session lasts as long as its token', () => {
  let s: TestServer;
  before(async () => { s = await startTestServer({ JWT_CLOCK_TOLERANCE_SEC: '0' }); });
  after(() => s.stop());
  const inSec = (n: number) => Math.floor(Date.now() / 1000) + n;

  it('ends at the token\'s exp with close code 4401', async () => {
    const c = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'brief', room: 'r', exp: inSec(2) })}`);
    const started = Date.now();
    const { code } = await c.closed;
    assert.equal(code, 4401);
    assert.ok(Date.now() - started < 3500, 'closed at the expiry, not later');
    assert.ok(s.logs.some((l) => l['event'] === 'token_expired' && l['peer'] === 'brief'));
  });

  it('goes on past the first exp after "refreshToken" with a newer token for the same peer', async () => {
    const c = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'renewed', room: 'r', exp: inSec(2) })}`);
    assert.equal((await c.call('refreshToken', { token: token({ sub: 'someone-else', room: 'r' }) })).error?.code, 'forbidden');
    assert.equal((await c.call('refreshToken', { token: token({ sub: 'renewed', room: 'other' }) })).error?.code, 'forbidden');
    assert.equal((await c.call('refreshToken', { token: token({ sub: 'renewed', room: 'r', exp: inSec(-10) }) })).error?.code, 'forbidden');
    assert.ok(await c.request('refreshToken', { token: token({ sub: 'renewed', room: 'r', exp: inSec(60) }) }));
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok(await c.request('getRouterRtpCapabilities'), 'still connected after the first token expired');
    await c.close();
  });
});
