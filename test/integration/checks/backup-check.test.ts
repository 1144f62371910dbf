import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { archiveName } from '../../../lib/backup/archive.js';
import { writeNewKey } from '../../../lib/backup/key.js';
import { freePort } from '../../helpers/process.js';
import { AlertReceiver } from '../../helpers/receiver.js';

const REPO = join(import.meta.dirname, '../../..');
const SECRETS = { RTCOPS_LOOP_JWT_SECRET: 'loop-jwt-secret-not-real-000000000000000', RTCOPS_LOOP_ADMIN_TOKEN: 'loop-admin-token-not-real-00000000000000', RTCOPS_LOOP_TURN_SECRET: 'loop-turn-secret-not-real-00000000000000' };
const HOUR = 3_600_000;
const base = (file: string) => file.split('/').pop() ?? file;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Result { check: string; target: string; status: string; message: string; values: Record<string, unknown> }

describe('the daemon\'s backup check (scheduled backups on the machine that keeps them): every run backs up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rtcops-backup-check-'));
  const out = join(dir, 'backups');
  let inventory: string;
  let keyFile: string;
  let closedPort: number;

  const config = (extra: Record<string, unknown> = {}) => {
    const file = join(dir, `daemon-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({ host: 'backups', stateFile: join(dir, 'alerts.json'), checks: { backup: { inventory, hosts: ['loop'], outDir: out, keyFile, timeoutMs: 30_000, ...extra } } }));
    return file;
  };
  const once = async (cfg: string, env: Record<string, string> = SECRETS) => {
    const r = await execa(process.execPath, ['--import', 'tsx', 'daemon/main.ts', '--config', cfg, '--once', '--json'], {
      cwd: REPO, env: { PATH: process.env['PATH'] ?? '', HOME: dir, ...env }, extendEnv: false, reject: false, timeout: 60_000,
    });
    const parsed = r.exitCode === 2 ? undefined : (JSON.parse(String(r.stdout)) as { results: Result[] });
    return { code: r.exitCode, results: parsed?.results ?? [], stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const archiveAt = (at: Date) => {
    mkdirSync(join(out, 'loop'), { recursive: true });
    const file = join(out, 'loop', archiveName('rtcops', 'loop', at));
    writeFileSync(file, 'not a real archive: only its name and age matter to the freshness rule');
    return file;
  };

  before(async () => {
    // A port nothing listens on, outside the host's RTC range (40000-49999), which the inventory refuses to overlap.
    do closedPort = await freePort();
    while (closedPort >= 40000 && closedPort <= 49999);
    keyFile = join(dir, 'backup.key');
    await writeNewKey(keyFile);
    // A real SSH key, so the attempt gets as far as the TCP connect (the age key is no SSH key).
    const sshKey = join(dir, 'id_ed25519');
    assert.equal(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', sshKey]).status, 0);
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, [
      'hosts:',
      '  loop:',
      '    os: debian-12',
      '    adminCidrs: [127.0.0.1/32]',
      // Nothing listens there: every backup attempt fails at connect, for real.
      `    ssh: { address: 127.0.0.1, port: ${closedPort}, user: root, keyPath: ${sshKey}, fingerprint: "SHA256:FmdugJhXwX678SqBTAWFZ290VqeBb8HqVmN5wXZ/iJk", connectTimeoutMs: 2000 }`,
      '    app: { domains: [rtc.rtcops.test] }',
      '    mediasoup: { announcedIp: 127.0.0.1 }',
      '    turn: { domain: turn.rtcops.test }',
      '    acme: { email: ops@rtcops.test }',
      '    secrets: { jwtSecret: { env: RTCOPS_LOOP_JWT_SECRET }, adminToken: { env: RTCOPS_LOOP_ADMIN_TOKEN }, turnSecret: { env: RTCOPS_LOOP_TURN_SECRET } }',
      '',
    ].join('\n'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing secret, a missing key, an unknown host: a config error at start (exit 2), naming each', async () => {
    const { RTCOPS_LOOP_TURN_SECRET: _, ...noTurn } = SECRETS;
    let r = await once(config(), noTurn);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /checks\.backup: hosts\.loop\.secrets\.turnSecret: environment variable RTCOPS_LOOP_TURN_SECRET is not set/);
    r = await once(config({ keyFile: undefined }));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /checks\.backup: no backup key: give --key-file <path> or set RTCOPS_BACKUP_KEY/);
    r = await once(config({ hosts: ['lop'] }));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no host "lop" \(did you mean "loop"\?\)/);
    for (const v of Object.values(SECRETS)) assert.ok(!r.stderr.includes(v));
    // The off-site copy without its credentials in the daemon's environment.
    r = await once(config({ upload: { url: 's3://acme-backups/rtcops' } }));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /checks\.backup\.upload: s3:\/\/acme-backups\/rtcops needs S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set/);
  });

  it('a backup that fails: critical, naming the host and the connection error, never a secret', async () => {
    const r = await once(config());
    assert.equal(r.code, 1, r.stderr);
    const [res] = r.results;
    assert.equal(res?.check, 'backup');
    assert.equal(res?.target, 'loop');
    assert.equal(res?.status, 'critical');
    assert.match(res?.message ?? '', new RegExp(`^backup of loop failed: connection refused by 127\\.0\\.0\\.1:${closedPort} \\(fix: check that sshd runs and ssh\\.port is right;.*\\); no archive of it exists yet; backups of loop are stale \\(at most 26 h allowed\\)$`));
    for (const v of Object.values(SECRETS)) assert.ok(!r.stdout.includes(v) && !r.stderr.includes(v));
  });

  it('a fresh archive does not skip the run (the schedule is the contract): it backs up again, here failing at connect', async () => {
    const fresh = archiveAt(new Date(Date.now() - 2 * HOUR));
    const r = await once(config());
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.results[0]?.status, 'critical');
    // The port is closed: the failure proves it tried; the message says when the last good archive was.
    assert.match(r.results[0]?.message ?? '', new RegExp(`^backup of loop failed: connection refused by 127\\.0\\.0\\.1:${closedPort} .*; the last good archive is ${esc(base(fresh))}, from \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC \\(2\\.0 h ago\\)$`));
    assert.equal(r.results[0]?.values['ageHours'], 2);
    assert.equal(r.results[0]?.values['file'], base(fresh));
    rmSync(fresh);
  });

  it('stale: the newest archive older than maxAgeHours, and the run failing, says both', async () => {
    const old = archiveAt(new Date(Date.now() - 30 * HOUR));
    const r = await once(config());
    assert.equal(r.code, 1);
    assert.equal(r.results[0]?.status, 'critical');
    assert.match(r.results[0]?.message ?? '', new RegExp(`^backup of loop failed: .*; the last good archive is ${esc(base(old))}, from .* UTC \\(30\\.0 h ago\\); backups of loop are stale \\(at most 26 h allowed\\)$`));
    assert.equal(r.results[0]?.values['ageHours'], 30);
    const tight = await once(config({ maxAgeHours: 48 }));
    assert.doesNotMatch(tight.results[0]?.message ?? '', /stale/);
  });

  it('the daemon alerts once per host, linking RUNBOOK.md#backup, with no secret in the alert', async () => {
    const rx = await AlertReceiver.start();
    const cfg = join(dir, 'daemon-alerting.yaml');
    writeFileSync(cfg, [
      'host: backups', `stateFile: ${join(dir, 'alerting-state.json')}`, `listen: { host: 127.0.0.1, port: ${await freePort()} }`,
      'runbookUrl: https://git.example.test/rtcops/RUNBOOK.md',
      'alerting: { failureThreshold: 1, reminderIntervalMin: 0, slack: true, plainHttpTo: [127.0.0.1/32], backoff: { initialDelayMs: 50, maxDelayMs: 100, minIntervalMs: 0 } }',
      'checks:',
      `  backup: { inventory: ${inventory}, hosts: [loop], outDir: ${out}, keyFile: ${keyFile} }`,
      '',
    ].join('\n'));
    // The daemon runs every check once at start, then on the schedule (03:00): the start-up run fails and alerts.
    const child = spawn(process.execPath, ['--import', 'tsx', 'daemon/main.ts', '--config', cfg], {
      cwd: REPO, env: { PATH: process.env['PATH'] ?? '', HOME: dir, ...SECRETS, SLACK_WEBHOOK_URL: rx.url }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d: Buffer) => { log += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const [alert] = await rx.waitFor(1, 30_000);
      const text = JSON.stringify(alert?.body);
      assert.match(text, /backup/);
      assert.match(text, /loop/);
      assert.match(text, /backup of loop failed: /);
      assert.match(text, /RUNBOOK\.md#backup/);
      for (const v of Object.values(SECRETS)) {
        assert.ok(!text.includes(v), 'a host secret in the alert');
        assert.ok(!log.includes(v), 'a host secret in the daemon log');
      }
      assert.ok(!text.includes(readFileSync(keyFile, 'utf8').match(/AGE-SECRET-KEY-\S+/)?.[0] ?? '\0'), 'the backup key in the alert');
    } finally {
      child.kill('SIGTERM');
      await exited;
      await rx.down();
    }
    assert.equal(rx.received.length, 1, 'one alert per open problem');
  });
});
