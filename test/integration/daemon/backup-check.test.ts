import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { archiveName } from '../../../lib/backup/archive.js';
import { writeNewKey } from '../../../lib/backup/key.js';
import { freePort } from '../../helpers/process.js';

const REPO = join(import.meta.dirname, '../../..');
const SECRETS = { RTCOPS_LOOP_JWT_SECRET: 'loop-jwt-secret-not-real-000000000000000', RTCOPS_LOOP_ADMIN_TOKEN: 'loop-admin-token-not-real-00000000000000', RTCOPS_LOOP_TURN_SECRET: 'loop-turn-secret-not-real-00000000000000' };
const HOUR = 3_600_000;

interface Result { check: string; target: string; status: string; message: string; values: Record<string, unknown> }

describe('the daemon\'s backup check (scheduled backups on the machine that keeps them)', () => {
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
    closedPort = await freePort();
    keyFile = join(dir, 'backup.key');
    await writeNewKey(keyFile);
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, [
      'hosts:',
      '  loop:',
      '    os: debian-12',
      '    adminCidrs: [127.0.0.1/32]',
      // Nothing listens there: every backup attempt fails at connect, for real.
      `    ssh: { address: 127.0.0.1, port: ${closedPort}, user: root, keyPath: ${keyFile}, fingerprint: "SHA256:FmdugJhXwX678SqBTAWFZ290VqeBb8HqVmN5wXZ/iJk", connectTimeoutMs: 2000 }`,
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
  });

  it('a backup that fails: critical, naming the host and the connection error, never a secret', async () => {
    const r = await once(config());
    assert.equal(r.code, 1, r.stderr);
    const [res] = r.results;
    assert.equal(res?.check, 'backup');
    assert.equal(res?.target, 'loop');
    assert.equal(res?.status, 'critical');
    assert.match(res?.message ?? '', new RegExp(`^backup of loop failed: .*127\\.0\\.0\\.1:${closedPort}.*; no archive of it exists yet$`));
    for (const v of Object.values(SECRETS)) assert.ok(!r.stdout.includes(v) && !r.stderr.includes(v));
  });

  it('a failure after older good backups says how old the last good one is', async () => {
    const old = archiveAt(new Date(Date.now() - 30 * HOUR));
    const r = await once(config());
    assert.equal(r.results[0]?.status, 'critical');
    assert.match(r.results[0]?.message ?? '', new RegExp(`^backup of loop failed: .*; the newest archive is ${old.split('/').pop()!.replace(/\./g, '\\.')}, 30\\.0 h old$`));
    assert.equal(r.results[0]?.values['ageHours'], 30);
  });

  it('a fresh archive: ok without backing up again (a daemon restart is not a schedule)', async () => {
    const fresh = archiveAt(new Date(Date.now() - 2 * HOUR));
    const r = await once(config());
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.results[0]?.status, 'ok');
    // The port is closed: had it tried, it would have failed.
    assert.match(r.results[0]?.message ?? '', new RegExp(`^loop was backed up 2\\.0 h ago \\(${fresh.split('/').pop()!.replace(/\./g, '\\.')}\\); not again yet$`));
  });

  it('stale: the newest archive older than maxAgeHours is critical even when no run was due', async () => {
    const r = await once(config({ maxAgeHours: 1, skipWhenNewerThanHours: 6 }));
    assert.equal(r.code, 1);
    assert.match(r.results[0]?.message ?? '', /^backups of loop are stale: the newest archive is .*, 2\.0 h old \(at most 1 h allowed\)$/);
  });
});
