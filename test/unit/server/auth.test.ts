import assert from 'node:assert/strict';
import { createHmac, createSecretKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import type { IncomingMessage } from 'node:http';
import { extractToken, verifyToken } from '../../../server/auth.js';
import type { JwtConfig } from '../../../server/config.js';

const secret = 'unit-test-secret-0123456789abcdef0123456789';
const hs: JwtConfig = { algorithm: 'HS256', key: createSecretKey(Buffer.from(secret)), previousKeys: [], clockToleranceSec: 0, maxLifetimeSec: 3600, issuer: undefined, audience: undefined };
const sign = (claims: object, opts: jwt.SignOptions = {}, key: jwt.Secret = secret, expires = true) =>
  jwt.sign(claims, key, { algorithm: 'HS256', ...(expires ? { expiresIn: 60 } : {}), ...opts });
const unsigned = (claims: object) =>
  `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
const peer = { sub: 'alice', room: 'standup' };

describe('JWT verification before the upgrade', () => {
  const cases: [string, string | undefined, string | undefined, string][] = [
    ['no token', undefined, undefined, 'missing'],
    ['garbage', 'not-a-jwt', undefined, 'malformed'],
    ['wrong secret', sign(peer, {}, 'another-secret-0123456789abcdef012345'), undefined, 'bad_signature'],
    ['expired', sign({ ...peer, exp: Math.floor(Date.now() / 1000) - 10 }, {}, secret, false), undefined, 'expired'],
    ['not yet valid', sign(peer, { notBefore: 600 }), undefined, 'not_before'],
    ['alg none', unsigned({ ...peer, exp: Math.floor(Date.now() / 1000) + 60 }), undefined, 'alg_not_allowed'],
    ['no expiry', sign(peer, {}, secret, false), undefined, 'bad_claims'],
    ['no sub', sign({ room: 'standup' }), undefined, 'bad_claims'],
    ['no room', sign({ sub: 'alice' }), undefined, 'bad_claims'],
    ['room with spaces', sign({ sub: 'alice', room: 'a b' }), undefined, 'bad_claims'],
    ['another room than asked for', sign(peer), 'board-meeting', 'wrong_room'],
    ['an expiry in the year 2999', sign({ ...peer, exp: 32472144000 }, {}, secret, false), undefined, 'too_long_lived'],
    ['an expiry more than the maximum lifetime after its iat', sign({ ...peer, iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) + 60 }, {}, secret, false), undefined, 'too_long_lived'],
    ['a token over 8 KiB', sign({ ...peer, pad: 'x'.repeat(9000) }), undefined, 'oversized'],
  ];
  for (const [name, token, room, reason] of cases) {
    it(`refuses ${name} (${reason})`, () => {
      assert.deepEqual(verifyToken(token, hs, room), { ok: false, reason });
    });
  }

  it('accepts a valid token and returns its claims', () => {
    const exp = Math.floor(Date.now() / 1000) + 60;
    assert.deepEqual(verifyToken(sign({ ...peer, role: 'host', exp }, {}, secret, false), hs, 'standup'), { ok: true, claims: { sub: 'alice', room: 'standup', role: 'host', exp } });
  });

  it('tolerates configured clock skew', () => {
    const late = sign({ ...peer, exp: Math.floor(Date.now() / 1000) - 5 }, {}, secret, false);
    assert.equal(verifyToken(late, { ...hs, clockToleranceSec: 30 }).ok, true);
  });

  describe('during a JWT secret rotation (JWT_SECRET_PREVIOUS)', () => {
    const old = 'the-secret-being-rotated-away-0123456789abcdef';
    const rotating: JwtConfig = { ...hs, previousKeys: [createSecretKey(Buffer.from(old))] };
    it('accepts tokens signed with the new secret and with the previous one', () => {
      assert.equal(verifyToken(sign(peer), rotating).ok, true);
      const exp = Math.floor(Date.now() / 1000) + 60;
      assert.deepEqual(verifyToken(sign({ ...peer, exp }, {}, old, false), rotating), { ok: true, claims: { sub: 'alice', room: 'standup', role: undefined, exp } });
    });
    it('still refuses a token signed with neither (bad_signature), and an expired one signed with the previous secret (expired)', () => {
      assert.deepEqual(verifyToken(sign(peer, {}, 'a-third-secret-0123456789abcdef0123456'), rotating), { ok: false, reason: 'bad_signature' });
      assert.deepEqual(verifyToken(sign({ ...peer, exp: Math.floor(Date.now() / 1000) - 10 }, {}, old, false), rotating), { ok: false, reason: 'expired' });
    });
    it('once the rotation is over (no previous key), the old secret is refused', () => {
      assert.deepEqual(verifyToken(sign(peer, {}, old), hs), { ok: false, reason: 'bad_signature' });
    });
  });

  describe('with an RS256 public key', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const rs: JwtConfig = { ...hs, algorithm: 'RS256', key: publicKey };
    it('accepts a token signed by the private key', () => {
      const t = jwt.sign(peer, privateKey, { algorithm: 'RS256', expiresIn: 60 });
      assert.equal(verifyToken(t, rs).ok, true);
    });
    it('refuses an HS256 token signed with the public key as secret (algorithm confusion)', () => {
      const forged = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ ...peer, exp: 9999999999 })).toString('base64url')}`;
      const t = `${forged}.${createHmac('sha256', pem).update(forged).digest('base64url')}`;
      assert.deepEqual(verifyToken(t, rs), { ok: false, reason: 'alg_not_allowed' });
    });
  });
});

describe('where the token is taken from', () => {
  const req = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;
  const url = (query: string) => new URL(`http://localhost/signaling${query}`);
  const cases: [string, string | undefined, string, ReturnType<typeof extractToken>][] = [
    ['neither', undefined, '', { ok: true, token: undefined }],
    ['the header', 'Bearer aaa', '', { ok: true, token: 'aaa' }],
    ['the query', undefined, '?token=aaa', { ok: true, token: 'aaa' }],
    ['both, the same token', 'Bearer aaa', '?token=aaa', { ok: true, token: 'aaa' }],
    ['both, different tokens', 'Bearer aaa', '?token=bbb', { ok: false, reason: 'conflicting_tokens' }],
    ['the query twice', undefined, '?token=aaa&token=bbb', { ok: false, reason: 'conflicting_tokens' }],
    ['a header that is not Bearer', 'Basic aaa', '?token=aaa', { ok: false, reason: 'malformed' }],
    ['a query token over 8 KiB', undefined, `?token=${'a'.repeat(9000)}`, { ok: false, reason: 'oversized' }],
  ];
  for (const [name, header, query, expected] of cases) it(`${name} → ${JSON.stringify(expected)}`, () => assert.deepEqual(extractToken(req(header), url(query)), expected));
});
