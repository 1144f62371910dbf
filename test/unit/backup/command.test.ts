import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { backupMain, restoreMain } from '../../../lib/backup/command.js';
import { backupPaths, tarArgv } from '../../../lib/backup/commands.js';
import { BackupKeyError, loadKey } from '../../../lib/backup/key.js';
import { parseProbe } from '../../../lib/backup/restore.js';
import { UsageError } from '../../../lib/cli.js';
import { InventoryError } from '../../../lib/inventory/index.js';
import { exampleHost, fakeSecrets } from '../../fixtures/inventories/hosts.js';
import { runMain as run, writeUnreachableInventory } from '../../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-backup-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A host nothing can reach: every case here must stop before connecting.
const inventory = writeUnreachableInventory(join(dir, 'inventory.yaml'), 'web', join(dir, 'id'), 'BK');
process.env['BK_JWT'] = 'j'.repeat(40);
process.env['BK_ADMIN'] = 'a'.repeat(40);
process.env['BK_TURN'] = 't'.repeat(40);
describe('backup.mjs / restore.mjs: bad input stops before any connection, naming the fix', () => {
  const usage = (p: Promise<unknown>, message: RegExp) => assert.rejects(p, (e: Error) => e instanceof UsageError && message.test(e.message));
  test('backup needs a host', () => usage(run(backupMain, ['-i', inventory]), /name a host or group/));
  test('an unknown host lists the known ones', () => usage(run(backupMain, ['nope', '-i', inventory]), /no host or group "nope" .*hosts: web/));
  test('retention counts are whole numbers', () => usage(run(backupMain, ['web', '-i', inventory, '--keep-weekly', 'many']), /--keep-weekly takes a whole number/));
  test('--new-key with hosts is a usage error', () => usage(run(backupMain, ['web', '--new-key', join(dir, 'k')]), /--new-key makes a key and backs up nothing/));
  test('restore needs --from', () => usage(run(restoreMain, ['web', '-i', inventory]), /give the archive with --from/));
  test('restore takes one host', () => usage(run(restoreMain, ['web', 'db', '-i', inventory, '--from', 'x.tar.gz']), /exactly one host/));

  test('no key: exit 2, and how to make one', async () => {
    const r = await run(backupMain, ['web', '-i', inventory, '--json'], { RTCOPS_BACKUP_KEY: undefined });
    assert.equal(r.code, 2);
    assert.match(r.err, /error: no backup key: give --key-file <path> or set RTCOPS_BACKUP_KEY\nfix: make one with: npx zx scripts\/backup\.mjs --new-key/);
    assert.equal(JSON.parse(r.out).error, 'key');
  });

  test('--new-key writes a 0600 key once, prints its public key; a second time is refused (exit 2)', async () => {
    const k = join(dir, 'backup.key');
    const first = await run(backupMain, ['--new-key', k]);
    assert.equal(first.code, 0);
    assert.match(first.out, /^wrote .*backup\.key \(mode 0600\); public key: age1[0-9a-z]{58}\n/);
    assert.equal(statSync(k).mode & 0o777, 0o600);
    const again = await run(backupMain, ['--new-key', k]);
    assert.equal(again.code, 2);
    assert.match(again.err, /already exists; a key is never overwritten/);
  });

  test('--new-key on a fresh machine: the missing ~/.config/rtcops is created 0700, and the key works at once', async () => {
    const home = join(dir, 'fresh-home');
    const k = join(home, '.config', 'rtcops', 'backup.key');
    const made = await run(backupMain, ['--new-key', k]);
    assert.equal(made.code, 0, made.err);
    assert.deepEqual([statSync(join(home, '.config')).mode & 0o777, statSync(join(home, '.config', 'rtcops')).mode & 0o777, statSync(k).mode & 0o777], [0o700, 0o700, 0o600]);
    assert.equal((await loadKey(k)).identity !== undefined, true);
  });

  test('--new-key where nothing can be written: exit 2, and the fix is not the same command again', async () => {
    writeFileSync(join(dir, 'a-file'), '');
    const r = await run(backupMain, ['--new-key', join(dir, 'a-file', 'backup.key')]);
    assert.equal(r.code, 2);
    assert.match(r.err, /cannot write the new backup key .*a-file\/backup\.key \((ENOTDIR|EEXIST)\)/);
    assert.doesNotMatch(r.err, /fix:.*--new-key/);
  });

  test('a --key-file that does not exist: the fix makes exactly that file', async () => {
    const missing = join(dir, 'nowhere', 'backup.key');
    await assert.rejects(loadKey(missing), (e: BackupKeyError) => /\(ENOENT\)/.test(e.message) && e.hint.includes(`--new-key ${missing}`));
  });

  test('restore of a missing archive: exit 2 before connecting', async () => {
    const r = await run(restoreMain, ['web', '-i', inventory, '--from', join(dir, 'nope.tar.gz'), '--key-file', join(dir, 'backup.key')]);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /REJECTED the archive, nothing was changed on the host\n {2}error: no archive at .*nope\.tar\.gz\n {2}fix: give the path of a \.tar\.gz made by scripts\/backup\.mjs/);
    assert.doesNotMatch(r.err, /connect/);
    assert.equal(existsSync(join(dir, 'nope.tar.gz')), false);
  });

  test('--from a backup directory picks the newest archive of the host in <dir>/<host>/; none there is a usage error', async () => {
    const backups = join(dir, 'backups');
    mkdirSync(join(backups, 'web'), { recursive: true });
    for (const n of ['rtcops-web-20261120T030000Z.tar.gz', 'rtcops-web-20261122T030000Z.tar.gz', 'rtcops-web-20261121T030000Z.tar.gz', 'billing-web-20261123T030000Z.tar.gz']) {
      writeFileSync(join(backups, 'web', n), 'not an archive');
      writeFileSync(join(backups, 'web', `${n}.sha256`), `${createHash('sha256').update('not an archive').digest('hex')}  ${n}\n`);
    }
    const r = await run(restoreMain, ['web', '-i', inventory, '--from', backups, '--key-file', join(dir, 'backup.key'), '--verify-only']);
    assert.equal(r.code, 2);
    assert.match(r.err, /error: rtcops-web-20261122T030000Z\.tar\.gz does not unpack/);
    mkdirSync(join(dir, 'empty'));
    await usage(run(restoreMain, ['web', '-i', inventory, '--from', join(dir, 'empty'), '--key-file', join(dir, 'backup.key')]), /no backup of web \(rtcops-web-\*\.tar\.gz\) in .*empty\/web or .*empty; give the archive's file name/);
  });

  test('restore trusts the inventory\'s acme.issuerRoots like deploy and check (a missing file is a usage error naming it)', async () => {
    const inv = join(dir, 'with-roots.yaml');
    writeFileSync(inv, readFileSync(inventory, 'utf8').replace('acme: { email: ops@example.test }', `acme: { email: ops@example.test, issuerRoots: ${join(dir, 'no-roots.pem')} }`));
    // Checked with every file the inventory names, before anything connects (exit 2 like any inventory error).
    await assert.rejects(run(restoreMain, ['web', '-i', inv, '--from', join(dir, 'x.tar.gz'), '--key-file', join(dir, 'backup.key')]),
      (e: Error) => e instanceof InventoryError && /hosts\.web\.acme\.issuerRoots: .*no-roots\.pem does not exist/.test(e.message));
  });

  test('--upload and --from s3:// without credentials: exit 2 naming the variables, before connecting', async () => {
    const noCreds = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined };
    const b = await run(backupMain, ['web', '-i', inventory, '--key-file', join(dir, 'backup.key'), '--upload', 's3://acme-backups/rtcops'], noCreds);
    assert.equal(b.code, 2);
    assert.match(b.err, /error: s3:\/\/acme-backups\/rtcops needs S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set/);
    const r = await run(restoreMain, ['web', '-i', inventory, '--key-file', join(dir, 'backup.key'), '--from', 's3://acme-backups/rtcops'], { ...noCreds, AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' });
    assert.equal(r.code, 2);
    assert.match(r.err, /needs S3 credentials: AWS_SECRET_ACCESS_KEY is not set/);
    for (const x of [b, r]) assert.doesNotMatch(x.err, /connect/);
    await usage(run(backupMain, ['web', '-i', inventory, '--s3-endpoint', 'http://127.0.0.1:9000']), /--s3-endpoint goes with --upload/);
    await usage(run(restoreMain, ['web', '-i', inventory, '--from', 'x.tar.gz', '--s3-endpoint', 'http://127.0.0.1:9000']), /--s3-endpoint goes with --from s3:/);
    const bad = await run(backupMain, ['web', '-i', inventory, '--key-file', join(dir, 'backup.key'), '--upload', 's3://Bad_Bucket']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /s3:\/\/Bad_Bucket is not an S3 URL with a valid bucket name\nfix: write it as s3:\/\/<bucket>\/<prefix>/);
  });
});

describe('what a backup reads from a host', () => {
  const host = exampleHost('prod');
  const paths = backupPaths(host, fakeSecrets(host));
  const plain = paths.plain.map((p) => p.path);

  test('every non-secret rendered file, the enabled site, the ACME CA, the alert state and both audit logs, in the clear', () => {
    for (const p of ['/etc/nginx/sites-available/rtcops.conf', '/etc/nginx/sites-enabled/rtcops.conf', '/etc/fail2ban/jail.local', '/etc/ssh/sshd_config.d/10-rtcops-hardening.conf',
      '/srv/rtcops/shared/ecosystem.config.cjs', '/etc/apt/apt.conf.d/50unattended-upgrades', '/srv/rtcops/shared/rtcops-daemon.json', '/etc/rtcops/acme-ca.pem',
      '/var/lib/rtcops-health/alerts.json', '/var/log/rtcops/provision.log', '/var/log/rtcops/deploy.log']) assert.ok(plain.includes(p), p);
  });
  test('secret-bearing files and /etc/letsencrypt only in the encrypted part, never in the clear', () => {
    assert.deepEqual(paths.secret, ['/etc/turnserver.conf', '/srv/rtcops/shared/rtcops.env', '/srv/rtcops/shared/rtcops-daemon.env', '/etc/prometheus/rtcops-node-exporter-web.yml', '/etc/letsencrypt']);
    for (const s of paths.secret) assert.ok(!plain.some((p) => p === s || (s.endsWith('letsencrypt') && p.startsWith(`${s}/live`))), s);
  });
  test('tar paths are relative to / and a file gone meanwhile is skipped', () => {
    assert.deepEqual(tarArgv(['/etc/a b', '/srv/x']), ['tar', '--ignore-failed-read', '-czf', '-', '-C', '/', '--', 'etc/a b', 'srv/x']);
  });
  test('the serving probe: a current release or a PM2 pid means the host serves', () => {
    assert.deepEqual(parseProbe('current=\npm2=\nletsencrypt=no\nreleases=\n'), { current: '', pm2Pid: 0, letsencrypt: false, releases: [] });
    assert.deepEqual(parseProbe('current=20250101T000000Z-abc1234\npm2=4242\nletsencrypt=yes\nreleases=20241231T000000Z-abc1234 20250101T000000Z-abc1234 \n'),
      { current: '20250101T000000Z-abc1234', pm2Pid: 4242, letsencrypt: true, releases: ['20241231T000000Z-abc1234', '20250101T000000Z-abc1234'] });
  });
});
