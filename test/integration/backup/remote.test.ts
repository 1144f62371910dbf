import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { archiveName } from '../../../lib/backup/archive.js';
import { backupMain, restoreMain } from '../../../lib/backup/command.js';
import { writeNewKey } from '../../../lib/backup/key.js';
import { RemoteStoreError, S3Store, s3SettingsFromEnv } from '../../../lib/backup/remote.js';
import { runMain as run, writeUnreachableInventory } from '../../helpers/cli.js';
import { freePort } from '../../helpers/process.js';
import { startS3, type TestS3 } from '../../helpers/s3.js';

const BUCKET = 'rtcops-backups';
const dir = mkdtempSync(join(tmpdir(), 'rtcops-s3-test-'));
const at = (iso: string) => new Date(iso);

/** A file named and checksummed like a backup archive (the store never opens archives: content is opaque to it). */
function fakeArchive(host: string, when: Date, bytes = 2048, app = 'rtcops'): string {
  mkdirSync(join(dir, 'local', host), { recursive: true });
  const file = join(dir, 'local', host, archiveName(app, host, when));
  const data = randomBytes(bytes);
  writeFileSync(file, data, { mode: 0o600 });
  writeFileSync(`${file}.sha256`, `${createHash('sha256').update(data).digest('hex')}  ${archiveName(app, host, when)}\n`);
  return file;
}

describe('the S3-compatible backup target, against a real S3 API server (s3rver) on 127.0.0.1', { timeout: 120_000 }, () => {
  let s3: TestS3;
  let env: Record<string, string>;
  let raw: S3Client;
  const store = (url = `s3://${BUCKET}/prod`) => S3Store.fromEnv(url, env, s3.endpoint);
  const keys = async (prefix: string) => ((await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).Contents ?? []).map((o) => o.Key ?? '').sort();
  const put = (Key: string, body = 'x') => raw.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: body }));

  before(async () => {
    s3 = await startS3([BUCKET]);
    env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
    raw = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  });
  after(async () => {
    raw?.destroy();
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('upload puts the archive and its .sha256 under <prefix>/<host>/, byte for byte', async () => {
    const file = fakeArchive('web1', at('2026-11-20T03:00:00Z'), 6 * 1048576 + 17);
    const s = store();
    const up = await s.upload(file, 'web1');
    s.close();
    assert.equal(up.key, 'prod/web1/rtcops-web1-20261120T030000Z.tar.gz');
    assert.equal(up.bytes, statSync(file).size);
    assert.deepEqual(await keys('prod/web1/'), [up.key, `${up.key}.sha256`]);
    const got = Buffer.from(await (await raw.send(new GetObjectCommand({ Bucket: BUCKET, Key: up.key }))).Body!.transformToByteArray());
    assert.ok(got.equals(readFileSync(file)), 'the stored object is the archive');
    assert.equal(await (await raw.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${up.key}.sha256` }))).Body!.transformToString(), readFileSync(`${file}.sha256`, 'utf8'));
  });

  it('list: this host\'s archives only, newest first; an upload without its .sha256 is not a backup', async () => {
    const s = store();
    for (const d of ['2026-11-21T03:00:00Z', '2026-11-22T03:00:00Z']) await s.upload(fakeArchive('web1', at(d)), 'web1');
    await s.upload(fakeArchive('web1', at('2026-11-22T04:00:00Z'), 100, 'billing'), 'web1');
    await put('prod/web1/rtcops-web1-20261122T050000Z.tar.gz'); // unfinished: no .sha256
    await put('prod/web1/notes.txt');
    await put('prod/web10/rtcops-web10-20261122T030000Z.tar.gz');
    const names = (await s.list('rtcops', 'web1')).map((a) => a.name);
    s.close();
    assert.deepEqual(names, ['rtcops-web1-20261122T030000Z.tar.gz', 'rtcops-web1-20261121T030000Z.tar.gz', 'rtcops-web1-20261120T030000Z.tar.gz']);
  });

  it('check passes on a prefix that holds backups, and list pages through more than 1000 objects', async () => {
    const s = store('s3://rtcops-backups/many');
    const mine = fakeArchive('big', at('2026-11-01T00:00:00Z'));
    // 1100 foreign objects sort before ours ("a…" < "rtcops-…"): our archive is on the second page.
    const names = Array.from({ length: 1100 }, (_, i) => `many/big/a-${String(i).padStart(4, '0')}.txt`);
    for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((k) => put(k)));
    await s.upload(mine, 'big');
    await s.check();
    const listed = await s.list('rtcops', 'big');
    s.close();
    assert.deepEqual(listed.map((a) => a.name), ['rtcops-big-20261101T000000Z.tar.gz']);
  });

  it('prune applies the retention policy in the bucket, deletes stale unfinished uploads, and touches nothing else', async () => {
    const s = store('s3://rtcops-backups/retention/');
    // Three days with two backups each, and one a month earlier.
    const dates = ['2026-10-15T03:00:00Z', '2026-11-20T03:00:00Z', '2026-11-20T15:00:00Z', '2026-11-21T03:00:00Z', '2026-11-21T15:00:00Z', '2026-11-22T03:00:00Z', '2026-11-22T15:00:00Z'];
    for (const d of dates) await s.upload(fakeArchive('db', at(d)), 'db');
    await put('retention/db/rtcops-db-20261101T000000Z.tar.gz'); // an upload that died long ago
    await put('retention/db/rtcops-db-20261123T000000Z.tar.gz'); // one in flight, newer than every complete one
    await put('retention/db/keep-me.txt');
    await put('retention/db/billing-db-20261001T000000Z.tar.gz');
    const r = await s.prune('rtcops', 'db', { daily: 2, weekly: 0, monthly: 2 });
    s.close();
    // Kept: the newest of each of the last 2 days (22nd 15:00, 21st 15:00), of each of the last 2 months (22nd 15:00, Oct 15th).
    assert.deepEqual(r.deleted.sort(), [
      'retention/db/rtcops-db-20261101T000000Z.tar.gz',
      'retention/db/rtcops-db-20261120T030000Z.tar.gz', 'retention/db/rtcops-db-20261120T150000Z.tar.gz',
      'retention/db/rtcops-db-20261121T030000Z.tar.gz', 'retention/db/rtcops-db-20261122T030000Z.tar.gz',
    ]);
    assert.equal(r.kept, 3);
    assert.deepEqual(await keys('retention/db/'), [
      'retention/db/billing-db-20261001T000000Z.tar.gz', 'retention/db/keep-me.txt',
      'retention/db/rtcops-db-20261015T030000Z.tar.gz', 'retention/db/rtcops-db-20261015T030000Z.tar.gz.sha256',
      'retention/db/rtcops-db-20261121T150000Z.tar.gz', 'retention/db/rtcops-db-20261121T150000Z.tar.gz.sha256',
      'retention/db/rtcops-db-20261122T150000Z.tar.gz', 'retention/db/rtcops-db-20261122T150000Z.tar.gz.sha256',
      'retention/db/rtcops-db-20261123T000000Z.tar.gz',
    ]);
  });

  it('fetch: the newest archive of the host for a prefix URL, or the one named; both files, mode 0600, intact', async () => {
    const s = store();
    const into = mkdtempSync(join(dir, 'dl-'));
    const newest = await s.fetch(`s3://${BUCKET}/prod`, 'rtcops', 'web1', into);
    assert.equal(newest.key, 'prod/web1/rtcops-web1-20261122T030000Z.tar.gz');
    assert.ok(readFileSync(newest.file).equals(readFileSync(join(dir, 'local', 'web1', 'rtcops-web1-20261122T030000Z.tar.gz'))));
    assert.equal(statSync(newest.file).mode & 0o777, 0o600);
    assert.equal(statSync(`${newest.file}.sha256`).mode & 0o777, 0o600);
    const into2 = mkdtempSync(join(dir, 'dl-'));
    const named = await s.fetch(`s3://${BUCKET}/prod/web1/rtcops-web1-20261120T030000Z.tar.gz`, 'rtcops', 'web1', into2);
    assert.equal(named.key, 'prod/web1/rtcops-web1-20261120T030000Z.tar.gz');
    assert.ok(existsSync(`${named.file}.sha256`));
    await assert.rejects(s.fetch(`s3://${BUCKET}/prod`, 'rtcops', 'nobody', into2), (e: Error) => e instanceof RemoteStoreError && /no backup of nobody \(rtcops\) under prod\/nobody\//.test(e.message));
    await assert.rejects(s.fetch(`s3://${BUCKET}/prod/web1/rtcops-web1-20200101T000000Z.tar.gz`, 'rtcops', 'web1', into2), (e: Error) => e instanceof RemoteStoreError && /no such object/.test(e.message));
    s.close();
  });

  it('an upload the service fails (HTTP 500 after the check passed): an error naming the bucket and the archive', async () => {
    // s3rver keeps objects as files under <dir>/<bucket>/<key>: a plain file where the host's folder must go makes
    // every put under it fail inside the server, while the prefix still lists.
    mkdirSync(join(s3.dir, BUCKET, 'broken'), { recursive: true });
    writeFileSync(join(s3.dir, BUCKET, 'broken', 'web1'), 'in the way');
    const s = store(`s3://${BUCKET}/broken`);
    await s.check();
    const file = fakeArchive('web1', at('2026-11-23T03:00:00Z'));
    await assert.rejects(s.upload(file, 'web1'), (e: RemoteStoreError) => e instanceof RemoteStoreError
      && /^s3:\/\/rtcops-backups\/broken at http:\/\/127\.0\.0\.1:\d+: upload rtcops-web1-20261123T030000Z\.tar\.gz failed: \w+ \(HTTP 500\)/.test(e.message) && /run it again/.test(e.hint));
    s.close();
  });

  it('errors name the problem and the fix, and never a secret', async () => {
    assert.throws(() => s3SettingsFromEnv({ AWS_ACCESS_KEY_ID: 'AKIA' }, 's3://b-1/x'), (e: Error) => e instanceof RemoteStoreError && /needs S3 credentials: AWS_SECRET_ACCESS_KEY is not set/.test(e.message));
    assert.throws(() => S3Store.fromEnv('s3://No_Such/x', env), /not an S3 URL with a valid bucket name/);
    assert.throws(() => S3Store.fromEnv(`s3://${BUCKET}/x`, env, 'ftp://127.0.0.1'), /S3 endpoint ftp:\/\/127\.0\.0\.1 is not an http\(s\) URL/);
    const missing = S3Store.fromEnv('s3://no-such-bucket/x', env, s3.endpoint);
    await assert.rejects(missing.check(), (e: RemoteStoreError) => /bucket no-such-bucket does not exist/.test(e.message) && /create the bucket/.test(e.hint));
    missing.close();
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const denied = S3Store.fromEnv(`s3://${BUCKET}/x`, { AWS_ACCESS_KEY_ID: 'AKIANOTKNOWN', AWS_SECRET_ACCESS_KEY: secret }, s3.endpoint);
    await assert.rejects(denied.check(), (e: RemoteStoreError) => /refused the credentials \(InvalidAccessKeyId\)/.test(e.message) && /AWS_ACCESS_KEY_ID/.test(e.hint) && !`${e.message}${e.hint}`.includes(secret));
    denied.close();
    const down = S3Store.fromEnv(`s3://${BUCKET}/x`, env, `http://127.0.0.1:${await freePort()}`);
    await assert.rejects(down.check(), (e: RemoteStoreError) => /cannot reach the S3 endpoint \(ECONNREFUSED\)/.test(e.message) && /--s3-endpoint/.test(e.hint));
    down.close();
  });

  describe('backup.mjs --upload / restore.mjs --from s3://: the target is proven before any host is touched', () => {
    const inventory = join(dir, 'inventory.yaml');
    const keyFile = join(dir, 'backup.key');
    before(async () => {
      // A host nothing can reach: had the command connected, it would fail differently and later.
      writeUnreachableInventory(inventory, 'web1', join(dir, 'id'), 'S3T');
      for (const v of ['S3T_JWT', 'S3T_ADMIN', 'S3T_TURN']) process.env[v] = randomBytes(24).toString('hex');
      await writeNewKey(keyFile);
    });
    const backup = (extra: string[], e: Record<string, string | undefined>) => run(backupMain, ['web1', '-i', inventory, '--key-file', keyFile, '--out', join(dir, 'out'), '--json', ...extra], e);

    it('missing credentials: exit 2 naming the variables; nothing backed up', async () => {
      const r = await backup(['--upload', `s3://${BUCKET}/prod`, '--s3-endpoint', s3.endpoint], { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
      assert.equal(r.code, 2);
      assert.match(r.err, /error: s3:\/\/rtcops-backups\/prod needs S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set\nfix: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
      assert.equal(JSON.parse(r.out).error, 'remote');
      assert.doesNotMatch(r.err, /\[web1\] connect/);
      assert.equal(existsSync(join(dir, 'out')), false);
    });

    it('a bucket that does not exist, or an endpoint that does not answer: exit 2 before connecting to the host', async () => {
      const nob = await backup(['--upload', 's3://no-such-bucket/prod', '--s3-endpoint', s3.endpoint], env);
      assert.equal(nob.code, 2);
      assert.match(nob.err, /bucket no-such-bucket does not exist/);
      const down = await backup(['--upload', `s3://${BUCKET}/prod`, '--s3-endpoint', `http://127.0.0.1:${await freePort()}`], env);
      assert.equal(down.code, 2);
      assert.match(down.err, /cannot reach the S3 endpoint/);
      for (const r of [nob, down]) assert.doesNotMatch(r.err, /\[web1\] connect/);
      assert.equal(existsSync(join(dir, 'out')), false);
    });

    it('restore --from s3://: no backup of the host there is exit 2; a download that is not an archive is refused before the host, and cleaned up', async () => {
      const temps = () => readdirSync(tmpdir()).filter((n) => n.startsWith('rtcops-restore-')).length;
      const before = temps();
      const none = await run(restoreMain, ['web1', '-i', inventory, '--key-file', keyFile, '--from', `s3://${BUCKET}/empty`, '--s3-endpoint', s3.endpoint, '--json'], env);
      assert.equal(none.code, 2);
      assert.match(none.err, /no backup of web1 \(rtcops\) under empty\/web1\//);
      // The newest "archive" under prod/web1 is random bytes with a matching .sha256 (verify-only: no host needed).
      const verify = await run(restoreMain, ['web1', '-i', inventory, '--key-file', keyFile, '--from', `s3://${BUCKET}/prod`, '--s3-endpoint', s3.endpoint, '--verify-only'], env);
      assert.equal(verify.code, 2);
      assert.match(verify.err, /downloaded s3:\/\/rtcops-backups\/prod\/web1\/rtcops-web1-20261122T030000Z\.tar\.gz \([\d.]+ MB\) in [\d.]+s/);
      assert.match(verify.err, /error: rtcops-web1-20261122T030000Z\.tar\.gz does not unpack: it is not a complete tar\.gz/);
      assert.doesNotMatch(verify.err, /rtcops-restore-/, 'the operator sees the bucket URL, not a temp path');
      assert.equal(temps(), before, 'the download was removed');
    });
  });
});
