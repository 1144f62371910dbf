import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkHost, checkHostKey, checkSecrets, checkSshKey, checkTcp, isEncryptedKey, sudoersFix, tcpProbe } from '../../../lib/doctor/host.js';
import { checkInventory, checkNode, checkSshClient, findOnPath } from '../../../lib/doctor/local.js';
import { formatTable, summaryLine, toJson } from '../../../lib/doctor/report.js';
import { blockedBy, fail, ok, skipped, warn } from '../../../lib/doctor/result.js';
import { fingerprintOf, type ResolvedHost } from '../../../lib/runner/index.js';
import { EXAMPLE_INVENTORY, FAKE_SECRET_ENV, exampleHost, withEnvSecrets } from '../../fixtures/inventories/hosts.js';
import { freePort } from '../../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-doctor-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function keygen(name: string, passphrase = ''): string {
  const path = join(dir, name);
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', path]);
  assert.equal(r.status, 0, String(r.stderr));
  return path;
}

/** A host (the example's prod, not named sandbox) pointed at files in the temp dir. */
function host(ssh: Partial<ResolvedHost['ssh']> = {}): ResolvedHost {
  const h = withEnvSecrets(exampleHost('prod'));
  h.ssh = { ...h.ssh, address: '127.0.0.1', port: 22, knownHostsFile: undefined, hostKey: undefined, fingerprint: undefined, ...ssh };
  return h;
}

describe('the operator\'s machine', () => {
  test('node: ok inside engines.node, a warning (not a failure) outside, with the fix', () => {
    assert.equal(checkNode('v22.12.0', '>=22.12').status, 'ok');
    const old = checkNode('v20.18.0', '>=22.12');
    assert.equal(old.status, 'warn');
    assert.match(old.message, /v20\.18\.0 is outside engines\.node >=22\.12/);
    assert.match(old.fix ?? '', /install Node\.js >=22\.12/);
    assert.equal(checkNode('v22.0.0', 'whatever').status, 'warn');
    // The repository's own package.json is found from source.
    assert.match(checkNode('v99.0.0').message, /satisfies engines\.node >=/);
  });

  test('ssh client: found on PATH, or a warning naming the package', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'ssh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(bin, 'not-exec'), '', { mode: 0o644 });
    assert.equal(findOnPath('ssh', `/nonexistent:${bin}`), join(bin, 'ssh'));
    assert.equal(findOnPath('not-exec', bin), undefined);
    assert.equal(checkSshClient(bin).status, 'ok');
    const missing = checkSshClient(join(dir, 'empty'));
    assert.equal(missing.status, 'warn');
    assert.equal(missing.fix, 'apt-get install openssh-client');
  });

  test('inventory: ok with its hosts, or a failure listing every problem with its path', () => {
    const good = checkInventory(EXAMPLE_INVENTORY);
    assert.equal(good.result.status, 'ok');
    assert.ok(good.inventory?.hosts['sandbox']);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'hosts:\n  a:\n    os: debian-99\n    sssh: {}\n');
    const r = checkInventory(bad);
    assert.equal(r.inventory, undefined);
    assert.equal(r.result.status, 'fail');
    assert.match(r.result.message, /problems?: /);
    assert.match(r.result.message, /hosts\.a\.sssh: unknown key/);
    assert.match(r.result.message, /hosts\.a\.os: must be one of/);
    assert.doesNotMatch(r.result.message, /\n/);
    const missing = checkInventory(join(dir, 'nope.yaml'));
    assert.match(missing.result.message, /cannot read the inventory: ENOENT/);
    assert.match(missing.result.fix ?? '', /-i <file>/);
  });
});

describe('per host, without the network', () => {
  test('secrets: all set is ok; missing ones are named by variable, never by value', () => {
    const h = host();
    assert.equal(checkSecrets(h, EXAMPLE_INVENTORY, FAKE_SECRET_ENV).status, 'ok');
    const env = { ...FAKE_SECRET_ENV, RTCOPS_SANDBOX_TURN_SECRET: undefined, RTCOPS_SANDBOX_ADMIN_TOKEN: '' };
    const r = checkSecrets(h, EXAMPLE_INVENTORY, env);
    assert.equal(r.status, 'fail');
    assert.match(r.message, /RTCOPS_SANDBOX_TURN_SECRET is not set/);
    assert.match(r.message, /RTCOPS_SANDBOX_ADMIN_TOKEN is not set/);
    assert.match(r.fix ?? '', /export RTCOPS_SANDBOX_ADMIN_TOKEN=\.\.\. export RTCOPS_SANDBOX_TURN_SECRET=\.\.\./);
    assert.match(r.fix ?? '', /mode 0600/);
    const text = JSON.stringify(r);
    for (const v of Object.values(FAKE_SECRET_ENV)) assert.ok(!text.includes(v), 'a secret value leaked');
    const short = checkSecrets(h, EXAMPLE_INVENTORY, { ...FAKE_SECRET_ENV, RTCOPS_SANDBOX_JWT_SECRET: 'short-secret-value' });
    assert.match(short.message, /RTCOPS_SANDBOX_JWT_SECRET is too short/);
    assert.ok(!JSON.stringify(short).includes('short-secret-value'));
  });

  test('secrets: a missing secrets file of the sandbox points at sandbox.mjs up; a loose one at chmod 600', () => {
    const sandbox = exampleHost('sandbox');
    sandbox.secrets.file = join(dir, 'no-such-secrets.yaml');
    const r = checkSecrets(sandbox, EXAMPLE_INVENTORY, {});
    assert.equal(r.status, 'fail');
    assert.match(r.message, /no-such-secrets\.yaml does not exist/);
    assert.match(r.fix ?? '', /npx zx scripts\/sandbox\.mjs up/);
    const loose = join(dir, 'loose-secrets.yaml');
    writeFileSync(loose, 'jwt_secret: x\n', { mode: 0o644 });
    chmodSync(loose, 0o644);
    sandbox.secrets.file = loose;
    assert.match(checkSecrets(sandbox, EXAMPLE_INVENTORY, {}).fix ?? '', new RegExp(`chmod 600 ${loose}`));
  });

  test('ssh-key: a private key at 0600 is ok; 0644, a public key, a passphrase and a missing file fail with the fix', () => {
    const key = keygen('id_ok');
    assert.equal(checkSshKey(host({ keyPath: key })).status, 'ok');
    chmodSync(key, 0o644);
    const loose = checkSshKey(host({ keyPath: key }));
    assert.equal(loose.status, 'fail');
    assert.match(loose.message, /mode 0644: group or others can read it/);
    assert.equal(loose.fix, `chmod 600 ${key}`);
    const pub = checkSshKey(host({ keyPath: `${key}.pub` }));
    assert.match(pub.message, /is a public key/);
    assert.match(pub.fix ?? '', new RegExp(`private half \\(${key}\\)`));
    const locked = keygen('id_locked', 'correct horse battery');
    assert.ok(isEncryptedKey(readFileSync(locked, 'utf8')));
    assert.ok(!isEncryptedKey(readFileSync(key, 'utf8')));
    assert.match(checkSshKey(host({ keyPath: locked })).message, /passphrase-protected; rtcops reads the key file itself \(no ssh-agent/);
    const missing = checkSshKey(host({ keyPath: join(dir, 'nope') }));
    assert.match(missing.message, /does not exist/);
    assert.match(missing.fix ?? '', /ssh-keygen -t ed25519/);
    writeFileSync(join(dir, 'junk'), 'hello\n', { mode: 0o600 });
    assert.match(checkSshKey(host({ keyPath: join(dir, 'junk') })).message, /not a private key/);
  });

  test('host-key: a fingerprint pin, a known_hosts entry for [address]:port; a missing file or entry fails', () => {
    const fp = 'SHA256:FmdugJhXwX678SqBTAWFZ290VqeBb8HqVmN5wXZ/iJk';
    assert.equal(checkHostKey(host({ fingerprint: fp })).status, 'ok');
    const pub = readFileSync(`${keygen('hostkey')}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    const kh = join(dir, 'known_hosts');
    writeFileSync(kh, `[127.0.0.1]:2222 ${pub}\n|1|abc=|def= ssh-ed25519 AAAA\n`);
    const pinned = checkHostKey(host({ port: 2222, knownHostsFile: kh }));
    assert.equal(pinned.status, 'ok');
    assert.ok(pinned.message.includes(fingerprintOf(Buffer.from(pub.split(' ')[1] ?? '', 'base64'))));
    const other = checkHostKey(host({ port: 2223, knownHostsFile: kh }));
    assert.equal(other.status, 'fail');
    assert.match(other.message, /has no entry for \[127\.0\.0\.1\]:2223 \(it has hashed \|1\| entries/);
    assert.match(other.fix ?? '', /ssh-keyscan -p 2223 127\.0\.0\.1 >> /);
    const gone = checkHostKey(host({ knownHostsFile: join(dir, 'no_known_hosts') }));
    assert.match(gone.message, /does not exist: no host key is pinned/);
    assert.match(checkHostKey(host()).message, /no host key pinned for 127\.0\.0\.1:22/);
  });

  test('sudo fix: a sudoers drop-in checked by visudo', () => {
    assert.match(sudoersFix('deploy'), /echo 'deploy ALL=\(ALL\) NOPASSWD:ALL' > \/etc\/sudoers\.d\/rtcops-deploy && chmod 440 .* && visudo -cf/);
  });
});

describe('TCP, against real sockets on loopback', () => {
  let banner: Server;
  let silent: Server;
  let bannerPort: number;
  let silentPort: number;
  const held: Socket[] = [];
  before(async () => {
    banner = createServer((s) => s.end('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'));
    silent = createServer((s) => { held.push(s); });
    await new Promise<void>((r) => banner.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    bannerPort = (banner.address() as { port: number }).port;
    silentPort = (silent.address() as { port: number }).port;
  });
  after(() => {
    banner.close();
    for (const s of held) s.destroy();
    silent.close();
  });

  test('an SSH banner is ok; a port that says nothing warns; a closed port fails with the fix', async () => {
    const r = await checkTcp(host({ port: bannerPort }), 2000);
    assert.equal(r.status, 'ok');
    assert.match(r.message, /answers SSH-2\.0-OpenSSH_9\.2p1/);
    const quiet = await checkTcp(host({ port: silentPort }), 300);
    assert.equal(quiet.status, 'warn');
    assert.match(quiet.message, /accepts TCP but sent no SSH banner/);
    const closed = await freePort();
    const refused = await checkTcp(host({ port: closed }), 2000);
    assert.equal(refused.status, 'fail');
    assert.match(refused.message, new RegExp(`127\\.0\\.0\\.1:${closed} unreachable: connection refused`));
    assert.match(refused.fix ?? '', /check ssh\.address and ssh\.port/);
    assert.doesNotMatch(refused.fix ?? '', /sandbox\.mjs/);
    const sandbox = exampleHost('sandbox');
    sandbox.ssh.address = '127.0.0.1';
    sandbox.ssh.port = closed;
    assert.match((await checkTcp(sandbox, 2000)).fix ?? '', /is the sandbox up\? npx zx scripts\/sandbox\.mjs up/);
  });

  test('a probe that gets no answer gives up after the timeout', async () => {
    // 192.0.2.0/24 is TEST-NET-1: routed nowhere, so either no answer (timeout) or no route.
    const t0 = Date.now();
    const r = await tcpProbe('192.0.2.1', 22, 300);
    assert.equal(r.open, false);
    assert.ok(Date.now() - t0 < 3000);
  });

  test('a closed port: login and sudo are skipped, saying why', async () => {
    const key = keygen('id_host');
    const h = host({ port: await freePort(), keyPath: key, fingerprint: 'SHA256:FmdugJhXwX678SqBTAWFZ290VqeBb8HqVmN5wXZ/iJk' });
    const results = await checkHost(h, EXAMPLE_INVENTORY, { env: FAKE_SECRET_ENV, tcpTimeoutMs: 1000 });
    assert.deepEqual(results.map((r) => `${r.check}=${r.status}`), ['secrets=ok', 'ssh-key=ok', 'host-key=ok', 'tcp=fail', 'login=skipped', 'sudo=skipped']);
    assert.equal(results[4]?.message, 'not attempted: tcp failed');
  });
});

describe('the report', () => {
  const results = [ok(null, 'node', 'Node.js v22'), warn(null, 'ssh-client', 'no ssh', 'apt-get install openssh-client'),
    fail('prod', 'tcp', '1.2.3.4:22 unreachable', 'check the firewall'), skipped('prod', 'login', 'not attempted: tcp failed')];

  test('blockedBy names the first failed or skipped dependency', () => {
    assert.equal(blockedBy(results, ['node', 'tcp']), 'not attempted: tcp failed');
    assert.equal(blockedBy(results, ['login']), 'not attempted: login was skipped');
    assert.equal(blockedBy(results, ['node', 'ssh-client']), undefined);
  });

  test('table: one line per check with its fix, and the summary line', () => {
    const table = formatTable(results).split('\n');
    assert.equal(table.length, 5);
    assert.match(table[0] ?? '', /^STATUS\s+HOST\s+CHECK\s+MESSAGE$/);
    assert.match(table[1] ?? '', /^OK\s+-\s+node\s+Node\.js v22$/);
    assert.match(table[2] ?? '', /^WARN\s+-\s+ssh-client\s+no ssh — fix: apt-get install openssh-client$/);
    assert.match(table[3] ?? '', /^FAIL\s+prod\s+tcp\s+1\.2\.3\.4:22 unreachable — fix: check the firewall$/);
    assert.match(table[4] ?? '', /^SKIP\s+prod\s+login\s+not attempted: tcp failed$/);
    assert.equal(summaryLine(results), 'doctor: 1 ok, 1 warn, 1 fail (1 skipped)');
    assert.equal(summaryLine(results.slice(0, 2)), 'doctor: 1 ok, 1 warn, 0 fail');
  });

  test('json: ok is false on any failure; every result has host, check, status, message, fix', () => {
    const j = toJson(results);
    assert.equal(j.ok, false);
    assert.equal(toJson(results.slice(0, 2)).ok, true);
    for (const r of j.results) assert.deepEqual(Object.keys(r), ['host', 'check', 'status', 'message', 'fix']);
    assert.equal(j.results[0]?.fix, null);
    assert.equal(j.results[0]?.host, null);
  });
});
