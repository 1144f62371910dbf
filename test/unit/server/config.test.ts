import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../server/config.js';

const S = 'x'.repeat(40);
const base = { JWT_SECRET: S, ADMIN_TOKEN: S, ANNOUNCED_IP: '203.0.113.10' };

describe('server configuration from the environment', () => {
  it('fills documented defaults', () => {
    const c = loadConfig(base);
    assert.equal(c.port, 3000);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.listenIp, '0.0.0.0');
    assert.deepEqual([c.rtcMinPort, c.rtcMaxPort], [40000, 49999]);
    assert.equal(c.webRtcServerPort, undefined);
    assert.equal(c.turn, undefined);
    assert.equal(c.jwt.algorithm, 'HS256');
    assert.equal(c.drainTimeoutMs, 30000);
    assert.equal(c.trustProxy, false);
  });

  it('reads TURN settings when both secret and URLs are set', () => {
    const c = loadConfig({ ...base, TURN_SECRET: S, TURN_URLS: 'turn:t.example.com:3478?transport=udp, turns:t.example.com:5349', TURN_TTL: '600' });
    assert.deepEqual(c.turn, { secret: S, urls: ['turn:t.example.com:3478?transport=udp', 'turns:t.example.com:5349'], ttlSec: 600 });
  });

  const bad: [string, Record<string, string>, string][] = [
    ['missing JWT secret', { ADMIN_TOKEN: S, ANNOUNCED_IP: '1.2.3.4' }, 'JWT_SECRET: is required but not set'],
    ['short JWT secret', { ...base, JWT_SECRET: 'secret' }, 'JWT_SECRET: is too short (6 characters)'],
    ['short previous JWT secret', { ...base, JWT_SECRET_PREVIOUS: 'old' }, 'JWT_SECRET_PREVIOUS: is too short (3 characters)'],
    ['previous JWT secret equal to the current one', { ...base, JWT_SECRET_PREVIOUS: S }, 'JWT_SECRET_PREVIOUS: equals JWT_SECRET: unset it once the rotation is over'],
    ['missing admin token', { JWT_SECRET: S, ANNOUNCED_IP: '1.2.3.4' }, 'ADMIN_TOKEN: is required but not set'],
    ['no announced IP on a wildcard listen IP', { JWT_SECRET: S, ADMIN_TOKEN: S }, 'ANNOUNCED_IP: is required when LISTEN_IP is 0.0.0.0'],
    ['announced IP that is a hostname', { ...base, ANNOUNCED_IP: 'rtc.example.com' }, 'ANNOUNCED_IP: must be an IPv4 or IPv6 address'],
    ['port that is not a number', { ...base, PORT: '80a' }, 'PORT: must be a whole number between 0 and 65535'],
    ['RTC range upside down', { ...base, RTC_MIN_PORT: '50000', RTC_MAX_PORT: '40000' }, 'RTC_MIN_PORT: (50000) must not be greater than RTC_MAX_PORT (40000)'],
    ['RTC port below 1024', { ...base, RTC_MIN_PORT: '80' }, 'RTC_MIN_PORT: must be between 1024 and 65535'],
    ['TURN secret without URLs', { ...base, TURN_SECRET: S }, 'TURN_URLS: is required when TURN_SECRET is set'],
    ['TURN URLs without secret', { ...base, TURN_URLS: 'turn:a:3478' }, 'TURN_SECRET: is required but not set'],
    ['TURN URL with a wrong scheme', { ...base, TURN_SECRET: S, TURN_URLS: 'https://t.example.com' }, 'TURN_URLS: "https://t.example.com" is not a turn: or turns: URL'],
    ['unknown JWT algorithm', { ...base, JWT_ALGORITHM: 'none' }, 'JWT_ALGORITHM: must be HS256 or RS256'],
    ['RS256 without a key file', { ...base, JWT_ALGORITHM: 'RS256' }, 'JWT_PUBLIC_KEY_FILE: is required but not set'],
    ['RS256 with an unreadable key file', { ...base, JWT_ALGORITHM: 'RS256', JWT_PUBLIC_KEY_FILE: '/nonexistent/key.pem' }, 'JWT_PUBLIC_KEY_FILE: cannot read "/nonexistent/key.pem": ENOENT'],
    ['TRUST_PROXY that is not a boolean', { ...base, TRUST_PROXY: 'maybe' }, 'TRUST_PROXY: must be true or false'],
    ['unknown log level', { ...base, LOG_LEVEL: 'loud' }, 'LOG_LEVEL: must be one of'],
    ['WebRtcServer ports past 65535', { ...base, NUM_WORKERS: '4', WEBRTC_SERVER_PORT: '65534' }, 'WEBRTC_SERVER_PORT: must be between 1024 and 65532'],
  ];
  for (const [name, env, message] of bad) {
    it(`refuses ${name}, naming the variable`, () => {
      assert.throws(() => loadConfig(env), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.ok(err.message.startsWith(message), `got: ${err.message}`);
        return true;
      });
    });
  }

  it('loads an RS256 public key file, and refuses one that is not RSA', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/rtcops-jwt-');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
    writeFileSync(`${dir}/rsa.pem`, rsa);
    writeFileSync(`${dir}/ec.pem`, ec);
    writeFileSync(`${dir}/junk.pem`, 'hello');
    const env = (file: string) => ({ ADMIN_TOKEN: S, ANNOUNCED_IP: '1.2.3.4', JWT_ALGORITHM: 'RS256', JWT_PUBLIC_KEY_FILE: `${dir}/${file}` });
    assert.equal(loadConfig(env('rsa.pem')).jwt.key.asymmetricKeyType, 'rsa');
    assert.throws(() => loadConfig(env('ec.pem')), /JWT_PUBLIC_KEY_FILE: ".*ec\.pem" is a ec key; RS256 needs an RSA public key/);
    assert.throws(() => loadConfig(env('junk.pem')), /JWT_PUBLIC_KEY_FILE: ".*junk\.pem" is not a PEM public key/);
  });

  it('never echoes a secret value in its error', () => {
    const secret = 'short-secret-value';
    assert.throws(() => loadConfig({ ...base, JWT_SECRET: secret }), (err: Error) => !err.message.includes(secret));
  });
});
