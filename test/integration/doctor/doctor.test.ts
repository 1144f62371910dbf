import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import type { DoctorResult } from '../../../lib/doctor/result.js';
import { fingerprintOf } from '../../../lib/runner/index.js';
import { REPO } from '../../fixtures/inventories/hosts.js';
import { freePort } from '../../helpers/process.js';
import { startSshd, type TestSshd } from '../../helpers/sshd.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-doctor-'));
const SECRETS = {
  RTCOPS_LOOP_JWT_SECRET: 'doctor-test-jwt-secret-not-real-000000000',
  RTCOPS_LOOP_ADMIN_TOKEN: 'doctor-test-admin-token-not-real-00000000',
  RTCOPS_LOOP_TURN_SECRET: 'doctor-test-turn-secret-not-real-00000000',
};

interface Report { ok: boolean; results: DoctorResult[] }

describe('npx zx scripts/doctor.mjs: the operator-side preflight, against a throw-away sshd', () => {
  let sshd: TestSshd;

  const run = async (args: string[], env: Record<string, string> = SECRETS) => {
    const r = await execa(join(REPO, 'node_modules/.bin/zx'), ['scripts/doctor.mjs', ...args], {
      cwd: REPO, env: { PATH: process.env['PATH'] ?? '', HOME: dir, ...env }, extendEnv: false, reject: false, timeout: 60_000,
    });
    return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  /** An inventory with one host "loop" whose ssh settings are these (merged over the working ones; null leaves a key out). */
  const inventory = (name: string, ssh: Record<string, string | number | null> = {}) => {
    const file = join(dir, `${name}.yaml`);
    const settings = { address: '127.0.0.1', port: sshd.port, user: 'root', keyPath: sshd.keyPath, knownHostsFile: sshd.knownHostsFile, ...ssh };
    writeFileSync(file, [
      'hosts:',
      '  loop:',
      '    os: debian-12',
      '    adminCidrs: [127.0.0.1/32]',
      `    ssh: { ${Object.entries(settings).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')} }`,
      `    app: { domains: [rtc.rtcops.test], root: ${join(dir, 'app')} }`,
      '    mediasoup: { announcedIp: 127.0.0.1, rtcPorts: { min: 10000, max: 10099 } }',
      '    turn: { domain: turn.rtcops.test, relayPorts: { min: 10100, max: 10199 } }',
      '    acme: { email: ops@rtcops.test }',
      '    secrets: { jwtSecret: { env: RTCOPS_LOOP_JWT_SECRET }, adminToken: { env: RTCOPS_LOOP_ADMIN_TOKEN }, turnSecret: { env: RTCOPS_LOOP_TURN_SECRET } }',
      '',
    ].join('\n'));
    return file;
  };
  const byCheck = (results: DoctorResult[]) => Object.fromEntries(results.map((r) => [r.check, r]));
  const noSecretIn = (text: string) => {
    for (const v of Object.values(SECRETS)) assert.ok(!text.includes(v), 'a secret value was printed');
  };

  before(async () => {
    sshd = await startSshd();
  });
  after(async () => {
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a healthy setup: every check ok, the table and the summary line, exit 0', async () => {
    const { code, stdout, stderr } = await run(['-i', inventory('good')]);
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /^STATUS\s+HOST\s+CHECK\s+MESSAGE$/m);
    for (const check of ['node', 'ssh-client', 'inventory']) assert.match(stdout, new RegExp(`^OK\\s+-\\s+${check}\\s`, 'm'));
    for (const check of ['secrets', 'ssh-key', 'host-key', 'tcp', 'login', 'sudo']) assert.match(stdout, new RegExp(`^OK\\s+loop\\s+${check}\\s`, 'm'), stdout);
    assert.match(stdout, /^OK\s+loop\s+tcp\s+127\.0\.0\.1:\d+ answers SSH-2\.0-OpenSSH/m);
    assert.match(stdout, /^OK\s+loop\s+login\s+logged in as root@127\.0\.0\.1:\d+ with .*; host key matches the pin$/m);
    assert.match(stdout, /^doctor: 9 ok, 0 warn, 0 fail$/m);
    noSecretIn(stdout + stderr);
  });

  it('--json: { ok, results: [{ host, check, status, message, fix }] }, hosts by name, this machine as null', async () => {
    const { code, stdout } = await run(['loop', '-i', inventory('good'), '--json']);
    assert.equal(code, 0);
    const report = JSON.parse(stdout) as Report;
    assert.equal(report.ok, true);
    assert.deepEqual(report.results.map((r) => `${r.host ?? '-'} ${r.check} ${r.status}`), [
      '- node ok', '- ssh-client ok', '- inventory ok',
      'loop secrets ok', 'loop ssh-key ok', 'loop host-key ok', 'loop tcp ok', 'loop login ok', 'loop sudo ok',
    ]);
    for (const r of report.results) {
      assert.deepEqual(Object.keys(r), ['host', 'check', 'status', 'message', 'fix']);
      assert.equal(typeof r.message, 'string');
      assert.equal(r.fix, null);
    }
  });

  it('a missing secret: names the variable (never a value) and the fix, exit 1', async () => {
    const { RTCOPS_LOOP_TURN_SECRET: _, ...rest } = SECRETS;
    const { code, stdout, stderr } = await run(['-i', inventory('good'), '--json'], rest);
    assert.equal(code, 1, stderr);
    const report = JSON.parse(stdout) as Report;
    assert.equal(report.ok, false);
    const secrets = byCheck(report.results)['secrets'];
    assert.equal(secrets?.status, 'fail');
    assert.match(secrets?.message ?? '', /secrets\.turnSecret: environment variable RTCOPS_LOOP_TURN_SECRET is not set/);
    assert.match(secrets?.fix ?? '', /export RTCOPS_LOOP_TURN_SECRET=\.\.\./);
    // Secrets do not stop the SSH checks: the login still ran.
    assert.equal(byCheck(report.results)['login']?.status, 'ok');
    noSecretIn(stdout + stderr);
    const table = await run(['-i', inventory('good')], rest);
    assert.equal(table.code, 1);
    assert.match(table.stdout, /^FAIL\s+loop\s+secrets\s+.*RTCOPS_LOOP_TURN_SECRET is not set — fix: export RTCOPS_LOOP_TURN_SECRET=/m);
    assert.match(table.stdout, /^doctor: 8 ok, 0 warn, 1 fail$/m);
  });

  it('a key file of mode 0644: fail with the chmod fix, and no login attempted with it', async () => {
    const key = join(dir, 'id_loose');
    copyFileSync(sshd.keyPath, key);
    chmodSync(key, 0o644);
    const { code, stdout } = await run(['-i', inventory('loose-key', { keyPath: key })]);
    assert.equal(code, 1, stdout);
    assert.match(stdout, new RegExp(`^FAIL\\s+loop\\s+ssh-key\\s+ssh\\.keyPath ${key} is mode 0644: group or others can read it .* — fix: chmod 600 ${key}$`, 'm'));
    assert.match(stdout, /^SKIP\s+loop\s+login\s+not attempted: ssh-key failed$/m);
    assert.match(stdout, /^SKIP\s+loop\s+sudo\s+not attempted: login was skipped$/m);
    assert.match(stdout, /^doctor: 6 ok, 0 warn, 1 fail \(2 skipped\)$/m);
  });

  it('a closed port: fail naming the address, login skipped', async () => {
    const port = await freePort();
    const { code, stdout } = await run(['-i', inventory('closed', { port, knownHostsFile: join(dir, 'kh-closed') }), '--json']);
    assert.equal(code, 1);
    const r = byCheck((JSON.parse(stdout) as Report).results);
    // Its own known_hosts pins the sshd's key for the closed port, so only TCP fails.
    assert.equal(r['host-key']?.status, 'fail');
    writeFileSync(join(dir, 'kh-closed'), `[127.0.0.1]:${port} ${sshd.hostKey}\n`);
    const again = byCheck((JSON.parse((await run(['-i', join(dir, 'closed.yaml'), '--json'])).stdout) as Report).results);
    assert.equal(again['host-key']?.status, 'ok');
    assert.equal(again['tcp']?.status, 'fail');
    assert.equal(again['tcp']?.message, `127.0.0.1:${port} unreachable: connection refused (nothing listens there)`);
    assert.match(again['tcp']?.fix ?? '', /check ssh\.address and ssh\.port, and that sshd runs/);
    assert.deepEqual([again['login']?.status, again['login']?.message], ['skipped', 'not attempted: tcp failed']);
    assert.equal(again['sudo']?.status, 'skipped');
  });

  it('a wrong pinned host key: login fails naming what the host presented and what the inventory pins', async () => {
    const real = fingerprintOf(Buffer.from(sshd.hostKey.split(' ')[1] ?? '', 'base64'));
    const wrong = fingerprintOf(Buffer.from(readFileSync(`${sshd.keyPath}.pub`, 'utf8').split(' ')[1] ?? '', 'base64'));
    const { code, stdout } = await run(['-i', inventory('wrong-pin', { fingerprint: wrong, knownHostsFile: null })]);
    assert.equal(code, 1, stdout);
    assert.match(stdout, /^OK\s+loop\s+host-key\s+pinned SHA256:/m);
    assert.ok(stdout.includes(`host key mismatch for 127.0.0.1: it presented ${real}, the inventory pins ${wrong}`), stdout);
    assert.match(stdout, /^FAIL\s+loop\s+login\s+host key mismatch .* — fix: if the host was rebuilt, verify its new key out of band and update the pin/m);
    assert.match(stdout, /^SKIP\s+loop\s+sudo\s+not attempted: login failed$/m);
  });

  it('a broken inventory: one fail listing every problem, hosts not attempted, exit 2 (as every script)', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'hosts:\n  loop:\n    os: debian-99\n    sssh: {}\n');
    const { code, stdout } = await run(['-i', file]);
    assert.equal(code, 2);
    assert.match(stdout, /^FAIL\s+-\s+inventory\s+.*broken\.yaml: \d+ problems: .*hosts\.loop\.sssh: unknown key.* — fix: edit .*broken\.yaml/m);
    assert.match(stdout, /^SKIP\s+-\s+hosts\s+not attempted for every host: the inventory did not load$/m);
  });

  const usage: [string, string[], RegExp][] = [
    ['an unknown host', ['nope'], /no host or group "nope" in .*; hosts: loop/],
    ['an unknown flag', ['--frobnicate'], /Unknown option '--frobnicate'/],
  ];
  for (const [name, args, message] of usage) {
    it(`exit 2 for ${name}, naming it`, async () => {
      const { code, stdout, stderr } = await run([...args, '-i', inventory('good')]);
      assert.equal(code, 2, stdout);
      assert.match(stderr, message);
      assert.match(stderr, /Run with --help for usage/);
      const json = await run([...args, '-i', inventory('good'), '--json']);
      assert.equal(json.code, 2);
      assert.equal((JSON.parse(json.stdout) as { error: string }).error, 'usage');
    });
  }
});
