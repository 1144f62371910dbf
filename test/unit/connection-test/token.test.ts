import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import jwt from 'jsonwebtoken';
import { UsageError } from '../../../lib/cli.js';
import { testRoomAllowed } from '../../../lib/connection-test/role.js';
import { tokenMain } from '../../../lib/connection-test/token-command.js';
import { verifyToken } from '../../../server/auth.js';
import { runMain } from '../../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-token-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = 'tk-jwt-secret-not-real-00000000000000000000';
const env = { TK_JWT: SECRET, TK_ADMIN: 'tk-admin-token-not-real-0000000000000000', TK_TURN: 'tk-turn-secret-not-real-000000000000000' };
const file = join(dir, 'inventory.yaml');
writeFileSync(file, `
hosts:
  tk:
    os: debian-12
    adminCidrs: [127.0.0.1/32]
    ssh: { address: 127.0.0.1, user: root, keyPath: /nonexistent/id_ed25519, knownHostsFile: /nonexistent/known_hosts }
    acme: { email: ops@example.test }
    secrets: { jwtSecret: { env: TK_JWT }, adminToken: { env: TK_ADMIN }, turnSecret: { env: TK_TURN } }
    app: { domains: [rtc.example.test, other.example.test] }
    mediasoup: { announcedIp: 192.0.2.10 }
    turn: { domain: turn.example.test }
`);
const jwtConfig = { key: SECRET, previousKeys: [], algorithm: 'HS256' as const, clockToleranceSec: 5, maxLifetimeSec: 86_400 };

describe('token.mjs: a connection test link', () => {
  test('a link to the first domain\'s page, the token in the #fragment, of the test role, for a fresh test room, 15 minutes', async () => {
    const r = await runMain(tokenMain, ['tk', '-i', file, '--json'], env);
    assert.equal(r.code, 0, r.err);
    const out = JSON.parse(r.out) as { url: string; room: string; expiresAt: string };
    const m = /^https:\/\/rtc\.example\.test\/connection-test#token=([\w-]+\.[\w-]+\.[\w-]+)$/.exec(out.url);
    assert.ok(m, out.url);
    const claims = jwt.verify(m[1]!, SECRET) as { role: string; room: string; sub: string; exp: number; iat: number };
    assert.equal(claims.role, 'connection-test');
    assert.match(claims.room, /^connection-test-[0-9a-f]{8}$/);
    assert.equal(claims.room, out.room);
    assert.equal(claims.exp - claims.iat, 900);
    // What the server decides for it: valid, and admitted only because the room is a test room.
    const auth = verifyToken(m[1], jwtConfig);
    assert.ok(auth.ok);
    assert.equal(testRoomAllowed(auth.claims.role, auth.claims.room), true);
    assert.equal(testRoomAllowed(auth.claims.role, 'standup'), false);
    assert.doesNotMatch(r.out + r.err, new RegExp(SECRET), 'the JWT secret itself is never printed');
  });

  test('--room and --ttl', async () => {
    const r = await runMain(tokenMain, ['tk', '-i', file, '--json', '--room', 'connection-test-office', '--ttl', '3600'], env);
    const { url } = JSON.parse(r.out) as { url: string };
    const claims = jwt.decode(url.split('#token=')[1]!) as { room: string; exp: number; iat: number };
    assert.equal(claims.room, 'connection-test-office');
    assert.equal(claims.exp - claims.iat, 3600);
  });

  for (const [args, message] of [
    [['--room', 'standup'], /a test room is "connection-test"/],
    [['--ttl', '30'], /--ttl takes whole seconds from 60 to 86400/],
    [['--ttl', '1e9'], /--ttl takes whole seconds/],
  ] as const) {
    test(`${args.join(' ')} is a usage error naming the fix`, async () => {
      await assert.rejects(runMain(tokenMain, ['tk', '-i', file, ...args], env), (e: Error) => e instanceof UsageError && message.test(e.message));
    });
  }

  test('a missing JWT secret is an inventory error (exit 2 path), not a token signed with nothing', async () => {
    await assert.rejects(runMain(tokenMain, ['tk', '-i', file], { ...env, TK_JWT: undefined }), /TK_JWT/);
  });
});
