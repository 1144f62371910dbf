import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { inspect } from 'node:util';
import { InventoryError, resolveSecrets, Secret, type ResolvedHost } from '../../../lib/inventory/index.js';
import { EXAMPLE_INVENTORY, exampleHost, FAKE_SECRET_ENV, withEnvSecrets } from '../../fixtures/inventories/hosts.js';
import { ensureSecretsFile } from '../../../lib/sandbox/secrets.js';

const sandboxEnv = {
  RTCOPS_SANDBOX_JWT_SECRET: FAKE_SECRET_ENV.RTCOPS_SANDBOX_JWT_SECRET,
  RTCOPS_SANDBOX_ADMIN_TOKEN: FAKE_SECRET_ENV.RTCOPS_SANDBOX_ADMIN_TOKEN,
  RTCOPS_SANDBOX_TURN_SECRET: FAKE_SECRET_ENV.RTCOPS_SANDBOX_TURN_SECRET,
};

function problems(host: ResolvedHost, env: Record<string, string>): string[] {
  try {
    resolveSecrets(host, EXAMPLE_INVENTORY, env);
  } catch (error) {
    assert.ok(error instanceof InventoryError);
    return error.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('expected missing or bad secrets to be reported');
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'rtcops-secrets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('secrets from the environment', () => {
  // The example sandbox reads a secrets file; the same host with environment references instead.
  const envHost = () => withEnvSecrets(exampleHost('sandbox'));

  test('all present: values come back wrapped', () => {
    const secrets = resolveSecrets(envHost(), EXAMPLE_INVENTORY, sandboxEnv);
    assert.equal(secrets.turnSecret.reveal(), sandboxEnv.RTCOPS_SANDBOX_TURN_SECRET);
    assert.equal(secrets.slackWebhookUrl, undefined);
  });

  test('every missing variable is named, at once', () => {
    assert.deepEqual(problems(envHost(), { RTCOPS_SANDBOX_ADMIN_TOKEN: sandboxEnv.RTCOPS_SANDBOX_ADMIN_TOKEN }), [
      'hosts.sandbox.secrets.jwtSecret: environment variable RTCOPS_SANDBOX_JWT_SECRET is not set',
      'hosts.sandbox.secrets.turnSecret: environment variable RTCOPS_SANDBOX_TURN_SECRET is not set',
    ]);
  });

  test('an empty variable counts as missing', () => {
    assert.deepEqual(problems(envHost(), { ...sandboxEnv, RTCOPS_SANDBOX_JWT_SECRET: '' }), [
      'hosts.sandbox.secrets.jwtSecret: environment variable RTCOPS_SANDBOX_JWT_SECRET is not set',
    ]);
  });

  test('unusable values are reported without the value', () => {
    const env = { ...sandboxEnv, RTCOPS_SANDBOX_JWT_SECRET: 'short-secret-value', RTCOPS_SANDBOX_TURN_SECRET: "has'quote-0000000000000000000000000000" };
    const messages = problems(envHost(), env);
    assert.deepEqual(messages, [
      'hosts.sandbox.secrets.jwtSecret: environment variable RTCOPS_SANDBOX_JWT_SECRET is too short (18 characters; use at least 32, e.g. openssl rand -hex 32)',
      'hosts.sandbox.secrets.turnSecret: environment variable RTCOPS_SANDBOX_TURN_SECRET must not contain spaces, quotes or backslashes',
    ]);
    assert.ok(!messages.join('\n').includes('short-secret-value'));
  });

  // Webhook URLs: https anywhere, plain http only to an address inside alerts.plainHttpTo; never echoed.
  const urls: [string, string, string[], string[]][] = [
    ['https anywhere', 'https://hooks.slack.invalid/x', [], []],
    ['http to a name', 'http://hooks.slack.invalid/x', ['10.0.0.0/8'], ['is a plain http URL to a name: use https, or an IP address inside one of the private networks allowed for plain http']],
    ['http to a private address not listed', 'http://10.77.0.1:8080/x', [], ['is a plain http URL to an address outside the networks allowed for plain http (none are)']],
    ['http to an address outside the listed network', 'http://192.168.1.5/x', ['10.77.0.0/24'], ['is a plain http URL to an address outside the networks allowed for plain http (10.77.0.0/24)']],
    ['http to a listed network', 'http://10.77.0.1:8080/x', ['10.77.0.0/24'], []],
    ['http to a listed IPv6 network', 'http://[fd00::5]:8080/x', ['fd00::/8'], []],
    ['another scheme', 'ftp://10.77.0.1/x', ['10.77.0.0/24'], ['must be an https URL (it is ftp)']],
  ];
  for (const [name, url, plainHttpTo, expected] of urls) {
    test(`alert webhook URL, ${name}: ${expected.length === 0 ? 'accepted' : 'refused'}`, () => {
      for (const key of ['slackWebhookUrl', 'webhookUrl'] as const) {
        const host = envHost();
        host.secrets[key] = { env: 'HOOK' };
        host.alerts = { ...host.alerts, plainHttpTo };
        const env = { ...sandboxEnv, HOOK: url };
        if (expected.length === 0) {
          assert.equal(resolveSecrets(host, EXAMPLE_INVENTORY, env)[key]?.reveal(), url);
          continue;
        }
        const messages = problems(host, env);
        assert.deepEqual(messages, expected.map((m) => `hosts.sandbox.secrets.${key}: environment variable HOOK ${m}`));
        assert.ok(!messages.join('\n').includes('/x'), 'the URL is never printed');
      }
    });
  }
});

describe('rotating a secret: the previous value beside the new one', () => {
  const envHost = () => withEnvSecrets(exampleHost('sandbox'));
  const OLD = 'the-old-turn-secret-0123456789abcdef0123';

  test('the previous values resolve like the others, and are absent when not named', () => {
    const host = envHost();
    assert.equal(resolveSecrets(host, EXAMPLE_INVENTORY, sandboxEnv).turnSecretPrevious, undefined);
    host.secrets.turnSecretPrevious = { env: 'OLD_TURN' };
    host.secrets.jwtSecretPrevious = { env: 'OLD_JWT' };
    const s = resolveSecrets(host, EXAMPLE_INVENTORY, { ...sandboxEnv, OLD_TURN: OLD, OLD_JWT: `${OLD}-jwt` });
    assert.equal(s.turnSecretPrevious?.reveal(), OLD);
    assert.equal(s.jwtSecretPrevious?.reveal(), `${OLD}-jwt`);
  });

  test('a previous value that is missing, or the same as the new one, is named (never printed)', () => {
    const host = envHost();
    host.secrets.turnSecretPrevious = { env: 'OLD_TURN' };
    assert.deepEqual(problems(host, sandboxEnv), ['hosts.sandbox.secrets.turnSecretPrevious: environment variable OLD_TURN is not set']);
    const messages = problems(host, { ...sandboxEnv, OLD_TURN: sandboxEnv.RTCOPS_SANDBOX_TURN_SECRET });
    assert.deepEqual(messages, ['hosts.sandbox.secrets.turnSecretPrevious: holds the same value as secrets.turnSecret: give the new value to turnSecret and the old one here, or remove turnSecretPrevious once the rotation is over']);
    assert.ok(!messages.join('\n').includes(sandboxEnv.RTCOPS_SANDBOX_TURN_SECRET));
  });
});

describe('secrets from a secrets file', () => {
  function fileHost(file: string): ResolvedHost {
    const host = exampleHost('sandbox');
    host.secrets = { file, jwtSecret: { key: 'jwt' }, adminToken: { key: 'admin' }, turnSecret: { env: 'RTCOPS_SANDBOX_TURN_SECRET' }, slackWebhookUrl: undefined };
    return host;
  }
  const values = `jwt: ${sandboxEnv.RTCOPS_SANDBOX_JWT_SECRET}\nadmin: ${sandboxEnv.RTCOPS_SANDBOX_ADMIN_TOKEN}\n`;

  test('a 0600 file outside git is read', (t) => {
    const file = join(tempDir(t), 'prod.secrets.yaml');
    writeFileSync(file, values, { mode: 0o600 });
    const secrets = resolveSecrets(fileHost(file), EXAMPLE_INVENTORY, sandboxEnv);
    assert.equal(secrets.jwtSecret.reveal(), sandboxEnv.RTCOPS_SANDBOX_JWT_SECRET);
  });

  test('a file others can read is refused', (t) => {
    const file = join(tempDir(t), 'prod.secrets.yaml');
    writeFileSync(file, values);
    chmodSync(file, 0o644);
    assert.deepEqual(problems(fileHost(file), sandboxEnv), [`hosts.sandbox.secrets.file: ${file} must be mode 0600 (it is 0644): chmod 600 ${file}`]);
  });

  test('a file git would track is refused; once ignored it is read', (t) => {
    const dir = tempDir(t);
    execFileSync('git', ['init', '-q', dir]);
    const file = join(dir, 'prod.secrets.yaml');
    writeFileSync(file, values, { mode: 0o600 });
    assert.deepEqual(problems(fileHost(file), sandboxEnv), [`hosts.sandbox.secrets.file: ${file} is not git-ignored: add it to .gitignore before putting secrets in it`]);
    writeFileSync(join(dir, '.gitignore'), '*.secrets.yaml\n');
    assert.equal(resolveSecrets(fileHost(file), EXAMPLE_INVENTORY, sandboxEnv).adminToken.reveal(), sandboxEnv.RTCOPS_SANDBOX_ADMIN_TOKEN);
  });

  test('the file "sandbox up" generates satisfies the example sandbox host: 0600, every key, long enough', (t) => {
    const file = join(tempDir(t), 'secrets.yaml');
    assert.equal(ensureSecretsFile(file), true);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const host = exampleHost('sandbox');
    assert.deepEqual([host.secrets.jwtSecret, host.secrets.adminToken, host.secrets.turnSecret], [{ key: 'jwt_secret' }, { key: 'admin_token' }, { key: 'turn_secret' }]);
    host.secrets.file = file;
    const secrets = resolveSecrets(host, EXAMPLE_INVENTORY, {});
    const values = [secrets.jwtSecret, secrets.adminToken, secrets.turnSecret].map((s) => s.reveal());
    assert.ok(values.every((v) => /^[0-9a-f]{64}$/.test(v)), 'random, 64 hex characters each');
    assert.equal(new Set(values).size, 3);
    assert.equal(ensureSecretsFile(file), false, 'an existing file is kept');
    assert.equal(resolveSecrets(host, EXAMPLE_INVENTORY, {}).turnSecret.reveal(), values[2]);
  });

  test('a missing key is named', (t) => {
    const file = join(tempDir(t), 'prod.secrets.yaml');
    writeFileSync(file, `jwt: ${sandboxEnv.RTCOPS_SANDBOX_JWT_SECRET}\n`, { mode: 0o600 });
    assert.deepEqual(problems(fileHost(file), sandboxEnv), [`hosts.sandbox.secrets.adminToken: key "admin" of ${file} is not set`]);
  });
});

describe('Secret never prints its value', () => {
  const secret = new Secret('test-jwt-secret-not-real-0000000000000000');
  const renderings: [string, string][] = [
    ['String()', String(secret)],
    ['template literal', `${secret}`],
    ['JSON.stringify', JSON.stringify({ secret })],
    ['util.inspect', inspect({ secret })],
  ];
  for (const [how, text] of renderings) test(how, () => assert.ok(!text.includes('not-real') && text.includes('[secret]'), text));
});
