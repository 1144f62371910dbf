import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignalingClient, startTestServer, token, type TestServer } from '../../helpers/server.js';

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

  it('never logs the token itself', () => {
    const text = JSON.stringify(s.logs);
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(text), 'no JWT in the logs');
  });

  it('answers 404 for upgrades on other paths', async () => {
    assert.equal(await upgradeStatus(`ws://127.0.0.1:${s.port}/other?token=${token(claims)}`), 404);
  });

  it('counts attempts and failures by reason in /metrics', async () => {
    const text = await (await fetch(`${s.http}/metrics`)).text();
    assert.match(text, /rtcops_join_failures_total\{reason="expired"\} 1/);
    assert.match(text, /rtcops_join_failures_total\{reason="wrong_room"\} 1/);
    assert.match(text, /rtcops_join_successes_total 3/);
  });
});
