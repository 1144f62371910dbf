import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ArchiveError, FORMAT, openArchive, packArchive, SECRETS_MEMBER, sha256File, type Manifest } from '../../../lib/backup/archive.js';
import { BackupKeyError, encryptTo, loadKey, parseKey, writeNewKey, type BackupKey } from '../../../lib/backup/key.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-archive-test-'));
const CERT = 'rtc.example.test';

/** A real archive as backup.mjs packs one: a config, a release-less manifest, and secrets encrypted with age. */
async function makeArchive(name: string, key: BackupKey, o: { app?: string; secrets?: Record<string, string> } = {}): Promise<string> {
  const staging = join(dir, `stage-${name}`);
  const plain = join(dir, `plain-${name}`);
  mkdirSync(join(staging, 'files/etc/nginx'), { recursive: true });
  writeFileSync(join(staging, 'files/etc/nginx/site.conf'), 'server { listen 443 ssl; }\n');
  const secrets = o.secrets ?? { [`etc/letsencrypt/live/${CERT}/fullchain.pem`]: 'CERT', [`etc/letsencrypt/live/${CERT}/privkey.pem`]: 'KEY', 'srv/app/shared/app.env': 'JWT_SECRET=s3cret\n' };
  for (const [p, content] of Object.entries(secrets)) {
    mkdirSync(join(plain, p, '..'), { recursive: true });
    writeFileSync(join(plain, p), content);
  }
  const tgz = execFileSync('tar', ['-czf', '-', '-C', plain, ...Object.keys(secrets)]);
  writeFileSync(join(staging, SECRETS_MEMBER), await encryptTo(key.recipient, tgz));
  const manifest: Omit<Manifest, 'members'> & { members: Omit<Manifest['members'][number], 'sha256' | 'bytes'>[] } = {
    format: FORMAT, app: o.app ?? 'rtcops', host: 'prod-a', inventory: 'inventory.yaml', rtcops: '0.1.0',
    startedAt: '2025-06-30T03:00:00.000Z', finishedAt: '2025-06-30T03:00:09.000Z', by: 'ops@laptop',
    hostInfo: { os: 'Debian GNU/Linux 12 (bookworm)', hostname: 'prod-a' },
    releases: { current: null, previous: null, all: [] },
    tls: { certName: CERT, names: [CERT], fingerprint: 'AB:CD', notAfter: 'Sep 28 03:00:00 2025 GMT' },
    encryption: { scheme: 'age', recipient: key.recipient },
    secretPaths: ['/etc/letsencrypt', '/srv/app/shared/app.env'],
    links: [],
    members: [
      { path: 'files/etc/nginx/site.conf', kind: 'config', hostPath: '/etc/nginx/site.conf', mode: '644', owner: 'root', group: 'root' },
      { path: SECRETS_MEMBER, kind: 'secrets' },
    ],
  };
  const file = join(dir, `rtcops-prod-a-${name}.tar.gz`);
  await packArchive(staging, manifest, file);
  return file;
}

/** Repack an unpacked archive (after changing something inside) and give it a matching checksum file. */
function repack(file: string, change: (unpacked: string) => void): string {
  const out = file.replace('.tar.gz', '-altered.tar.gz');
  const u = mkdtempSync(join(dir, 'u-'));
  execFileSync('tar', ['-xzf', file, '-C', u]);
  change(u);
  execFileSync('sh', ['-c', `tar -czf "$1" -C "$2" . && sha256sum "$1" | sed "s#  .*/#  #" > "$1.sha256"`, 'repack', out, u]);
  return out;
}

describe('backup archives: verified completely before use, every failure named', () => {
  let key: BackupKey;
  let other: BackupKey;
  let good: string;
  const open = (file: string, k = key, app = 'rtcops') => openArchive(file, k, { app, certName: CERT });
  const rejects = (p: Promise<unknown>, kind: typeof ArchiveError | typeof BackupKeyError, message: RegExp) =>
    assert.rejects(p, (err: Error & { hint?: string }) => {
      assert.ok(err instanceof kind, `${err.name}: ${err.message}`);
      assert.match(err.message, message);
      assert.ok((err.hint ?? '').length > 0, 'names a fix');
      return true;
    });

  before(async () => {
    const kf = join(dir, 'backup.key');
    await writeNewKey(kf);
    key = await loadKey(kf, {});
    await writeNewKey(join(dir, 'other.key'));
    other = await loadKey(join(dir, 'other.key'), {});
    good = await makeArchive('good', key);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a good archive opens: checksum file, members, manifest, and the secrets decrypt in memory only', async () => {
    assert.equal(statSync(good).isFile(), true);
    assert.match(readFileSync(`${good}.sha256`, 'utf8'), /^[0-9a-f]{64} {2}rtcops-prod-a-good\.tar\.gz\n$/);
    const a = await open(good);
    try {
      assert.equal(a.manifest.app, 'rtcops');
      assert.equal(a.manifest.members.find((m) => m.kind === 'config')?.sha256, await sha256File(join(a.dir, 'files/etc/nginx/site.conf')));
      assert.ok(a.secrets.length > 0);
      assert.equal(execFileSync('tar', ['-xzOf', '-', 'srv/app/shared/app.env'], { input: a.secrets }).toString(), 'JWT_SECRET=s3cret\n');
      const unpacked = execFileSync('find', [a.dir, '-type', 'f']).toString();
      assert.doesNotMatch(unpacked, /app\.env|privkey/, 'secrets are never unpacked to disk');
      assert.doesNotMatch(readFileSync(good).toString('latin1'), /s3cret/, 'no plaintext secret in the archive');
    } finally {
      a.close();
    }
  });

  it('one flipped byte: the checksum file says damaged', async () => {
    const bad = join(dir, 'flipped.tar.gz');
    const bytes = readFileSync(good);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(bad, bytes);
    writeFileSync(`${bad}.sha256`, readFileSync(`${good}.sha256`));
    await rejects(open(bad), ArchiveError, /does not match its checksum file: it was damaged or truncated/);
  });

  it('truncated, with a checksum recomputed for the truncated file: it does not unpack', async () => {
    const bad = join(dir, 'truncated.tar.gz');
    writeFileSync(bad, readFileSync(good));
    truncateSync(bad, Math.floor(statSync(good).size / 2));
    execFileSync('sh', ['-c', 'sha256sum "$1" > "$1.sha256"', 'sum', bad]);
    await rejects(open(bad), ArchiveError, /does not unpack: it is not a complete tar\.gz/);
  });

  it('no checksum file beside it', async () => {
    const bad = join(dir, 'nosum.tar.gz');
    writeFileSync(bad, readFileSync(good));
    await rejects(open(bad), ArchiveError, /has no checksum file beside it/);
  });

  it('a member changed inside (checksum file made to match): its manifest hash catches it', async () => {
    const bad = repack(good, (u) => writeFileSync(join(u, 'files/etc/nginx/site.conf'), 'server { listen 80; }\n'));
    await rejects(open(bad), ArchiveError, /files\/etc\/nginx\/site\.conf does not match the SHA-256 in its manifest/);
  });

  it('a file slipped in that the manifest does not list', async () => {
    const bad = repack(good, (u) => writeFileSync(join(u, 'files/etc/extra.conf'), 'x\n'));
    await rejects(open(bad), ArchiveError, /holds files its manifest does not list: files\/etc\/extra\.conf/);
  });

  it('not an rtcops backup at all', async () => {
    const bad = repack(good, (u) => rmSync(join(u, 'manifest.json')));
    await rejects(open(bad), ArchiveError, /is not an rtcops backup \(manifest\.json is missing\)/);
  });

  it('an archive of another app', async () => {
    const otherApp = await makeArchive('other-app', key, { app: 'billing' });
    await rejects(open(otherApp), ArchiveError, /is a backup of app "billing" \(host prod-a\); the inventory's host runs app "rtcops"/);
  });

  it('the wrong key, and a public key only: named, with the key the archive wants', async () => {
    await rejects(open(good, other), BackupKeyError, new RegExp(`wrong backup key: the archive was encrypted to ${key.recipient}`));
    await rejects(open(good, await parseKey(key.recipient, 'a public key')), BackupKeyError, /holds only a public key/);
  });

  it('the encrypted member altered (manifest hash made to match): age\'s authentication refuses it', async () => {
    const bad = repack(good, (u) => {
      const p = join(u, SECRETS_MEMBER);
      const bytes = readFileSync(p);
      bytes[bytes.length - 3]! ^= 0x01;
      writeFileSync(p, bytes);
      const m = JSON.parse(readFileSync(join(u, 'manifest.json'), 'utf8')) as Manifest;
      const member = m.members.find((x) => x.path === SECRETS_MEMBER)!;
      member.sha256 = execFileSync('sha256sum', [p]).toString().split(' ')[0]!;
      writeFileSync(join(u, 'manifest.json'), JSON.stringify(m));
    });
    await rejects(open(bad), BackupKeyError, /does not decrypt .*altered or damaged/);
  });

  it('secrets without the certificate the inventory names', async () => {
    const noCert = await makeArchive('no-cert', key, { secrets: { 'srv/app/shared/app.env': 'X=1\n' } });
    await rejects(open(noCert), ArchiveError, /secrets hold no certificate for rtc\.example\.test/);
  });
});

describe('the backup key: an age key in a 0600 file or RTCOPS_BACKUP_KEY', () => {
  const kdir = mkdtempSync(join(tmpdir(), 'rtcops-key-test-'));
  after(() => rmSync(kdir, { recursive: true, force: true }));

  it('--new-key writes a 0600 identity with its public key in a comment, and never overwrites', async () => {
    const f = join(kdir, 'k');
    const recipient = await writeNewKey(f);
    assert.equal(statSync(f).mode & 0o777, 0o600);
    assert.match(readFileSync(f, 'utf8'), new RegExp(`# public key: ${recipient}\nAGE-SECRET-KEY-1[0-9A-Z]{58}\n$`));
    assert.equal((await loadKey(f, {})).recipient, recipient);
    await assert.rejects(writeNewKey(f), /already exists; a key is never overwritten/);
  });

  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['no key at all', () => loadKey(undefined, {}), /no backup key: give --key-file <path> or set RTCOPS_BACKUP_KEY/],
    ['a missing file', () => loadKey(join(kdir, 'nope'), {}), /cannot read the backup key file .*nope \(ENOENT\)/],
    ['a file others can read', async () => { const f = join(kdir, 'open'); await writeNewKey(f); chmodSync(f, 0o644); return loadKey(f, {}); }, /readable by others \(mode 0644\)/],
    ['garbage in the variable', () => loadKey(undefined, { RTCOPS_BACKUP_KEY: 'hunter2' }), /RTCOPS_BACKUP_KEY is not an age X25519 identity/],
    ['two keys in one file', () => parseKey('age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\nage1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq', 'f'), /exactly one age identity .*found 2 line/],
  ];
  for (const [name, load, message] of cases) {
    it(`refused: ${name}`, async () => {
      await assert.rejects(load(), (err: Error) => err instanceof BackupKeyError && message.test(err.message) && (err as BackupKeyError).hint.length > 0);
    });
  }

  it('the key never shows in errors, JSON or inspect output', async () => {
    const f = join(kdir, 'shown');
    await writeNewKey(f);
    const k = await loadKey(f, {});
    const secret = readFileSync(f, 'utf8').match(/AGE-SECRET-KEY-1\S+/)![0];
    assert.doesNotMatch(JSON.stringify(k), new RegExp(secret));
    assert.doesNotMatch((await import('node:util')).inspect(k), new RegExp(secret));
    assert.equal(existsSync(f), true);
  });
});
