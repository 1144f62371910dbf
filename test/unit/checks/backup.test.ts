import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gradeBackup } from '../../../lib/checks/backup.js';
import { DAEMON_CHECK_NAMES } from '../../../lib/checks/index.js';
import { ConfigError, parseConfig } from '../../../daemon/config.js';
import { daemonConfigSchema } from '../../../lib/daemon-config.js';
import { ALL_CHECKS } from '../../../lib/checks/operator.js';
import { archiveName, listArchives } from '../../../lib/backup/archive.js';

const HOUR = 3_600_000;
// The clock every result is graded against.
const now = new Date('2026-11-23T05:00:00Z');
const o = { maxAgeHours: 26 };

describe('gradeBackup: the freshness of real archive files in <outDir>/<host>/', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rtcops-backup-grade-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  /** A host directory holding archives made `hoursAgo` before now (plus files that are not archives). */
  const hostDir = (...hoursAgo: number[]) => {
    const d = join(dir, `h${n++}`, 'loop');
    mkdirSync(d, { recursive: true });
    for (const h of hoursAgo) {
      const file = join(d, archiveName('rtcops', 'loop', new Date(now.getTime() - h * HOUR)));
      writeFileSync(file, 'x');
      writeFileSync(`${file}.sha256`, 'x');
    }
    writeFileSync(join(d, '.partial-rtcops-loop-20261123T045900Z.tar.gz'), '');
    writeFileSync(join(d, 'rtcops-other-20261123T045900Z.tar.gz'), '');
    return d;
  };
  const newest = (d: string) => listArchives(d, 'rtcops', 'loop')[0];

  it('a successful run: ok with the archive name, its age, size and release', () => {
    const d = hostDir(48, 24, 0.25);
    const r = gradeBackup('loop', o, { ok: true, file: join(d, 'rtcops-loop-20261123T044500Z.tar.gz'), bytes: 3 * 1048576, release: '20261123T040000Z-abc' }, newest(d), now);
    assert.deepEqual(r, {
      check: 'backup', target: 'loop', status: 'ok',
      message: 'backed up loop: rtcops-loop-20261123T044500Z.tar.gz, 3.0 MB, release 20261123T040000Z-abc',
      values: { ageHours: 0.3, bytes: 3145728, release: '20261123T040000Z-abc', file: 'rtcops-loop-20261123T044500Z.tar.gz' },
    });
  });

  it('a successful run with the off-site copy says where it went', () => {
    const d = hostDir(0.25);
    const uploaded = 's3://acme-backups/rtcops/loop/rtcops-loop-20261123T044500Z.tar.gz';
    const r = gradeBackup('loop', o, { ok: true, file: join(d, 'rtcops-loop-20261123T044500Z.tar.gz'), bytes: 1048576, release: 'r1', uploaded }, newest(d), now);
    assert.equal(r.message, `backed up loop: rtcops-loop-20261123T044500Z.tar.gz, 1.0 MB, release r1, uploaded to ${uploaded}`);
    assert.equal(r.values['uploaded'], uploaded);
  });

  it('ok on a host with no release yet: release is null in the values', () => {
    const d = hostDir(0);
    const r = gradeBackup('loop', o, { ok: true, bytes: 1024, release: null }, newest(d), now);
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.values, { ageHours: 0, bytes: 1024, release: null, file: 'rtcops-loop-20261123T050000Z.tar.gz' });
  });

  it('a failed run is critical with the error and its fix, and when the last good archive was', () => {
    const d = hostDir(30, 5);
    const r = gradeBackup('loop', o, { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:1', hint: 'is the host up?' }, newest(d), now);
    assert.equal(r.status, 'critical');
    assert.equal(r.message, 'backup of loop failed: connect ECONNREFUSED 127.0.0.1:1 (fix: is the host up?); the last good archive is rtcops-loop-20261123T000000Z.tar.gz, from 2026-11-23 00:00 UTC (5.0 h ago)');
    assert.deepEqual(r.values, { ageHours: 5, file: 'rtcops-loop-20261123T000000Z.tar.gz' });
  });

  it('a failed run past maxAgeHours also says the backups are stale', () => {
    const d = hostDir(30);
    assert.equal(gradeBackup('loop', o, { ok: false, error: 'boom' }, newest(d), now).message,
      'backup of loop failed: boom; the last good archive is rtcops-loop-20261121T230000Z.tar.gz, from 2026-11-21 23:00 UTC (30.0 h ago); backups of loop are stale (at most 26 h allowed)');
  });

  it('a failed run and no archive at all (only files that are not its archives)', () => {
    const d = hostDir();
    assert.equal(newest(d), undefined);
    const r = gradeBackup('loop', o, { ok: false, error: 'boom' }, newest(d), now);
    assert.equal(r.status, 'critical');
    assert.equal(r.message, 'backup of loop failed: boom; no archive of it exists yet; backups of loop are stale (at most 26 h allowed)');
    assert.deepEqual(r.values, { ageHours: null });
  });

  it('a run that reported ok but left no archive newer than maxAgeHours: critical, stale, saying when the last one was', () => {
    const d = hostDir(27);
    const r = gradeBackup('loop', o, { ok: true }, newest(d), now);
    assert.equal(r.status, 'critical');
    assert.equal(r.message, 'backups of loop are stale (at most 26 h allowed): the last good archive is rtcops-loop-20261122T020000Z.tar.gz, from 2026-11-22 02:00 UTC (27.0 h ago)');
    assert.equal(gradeBackup('loop', o, { ok: true }, undefined, now).message, 'backups of loop are stale (at most 26 h allowed): no archive of it exists yet');
  });

  it('the boundary: exactly maxAgeHours old is still ok, a minute more is stale; minutes below two hours', () => {
    assert.equal(gradeBackup('loop', o, { ok: true }, newest(hostDir(26)), now).status, 'ok');
    assert.equal(gradeBackup('loop', o, { ok: true }, newest(hostDir(26 + 1 / 60)), now).status, 'critical');
    assert.match(gradeBackup('loop', o, { ok: false, error: 'boom' }, newest(hostDir(0.5)), now).message, /\(30 min ago\)$/);
  });
});

describe('the backup check config', () => {
  const base = { host: 'backups', stateFile: '/var/lib/rtcops-backups/alerts.json' };
  it('defaults: daily at 03:00, 15 min to run, stale after 26 h', () => {
    const c = parseConfig({ ...base, checks: { backup: { inventory: 'inventory.yaml', hosts: ['prod'], outDir: '/var/backups/rtcops' } } }, 'cfg');
    assert.deepEqual(c.checks.backup, { schedule: '0 0 3 * * *', timeoutMs: 900_000, inventory: 'inventory.yaml', hosts: ['prod'], outDir: '/var/backups/rtcops', maxAgeHours: 26 });
  });

  it('at least one host, an outDir, no unknown keys', () => {
    const problems = (input: unknown) => {
      try {
        parseConfig(input, 'cfg');
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    };
    assert.match(problems({ ...base, checks: { backup: { inventory: 'i.yaml', hosts: [], outDir: '/b' } } }).join('\n'), /^checks\.backup\.hosts: /);
    assert.match(problems({ ...base, checks: { backup: { inventory: 'i.yaml', hosts: ['prod'] } } }).join('\n'), /^checks\.backup\.outDir: /);
    assert.match(problems({ ...base, checks: { backup: { inventory: 'i.yaml', hosts: ['prod'], outDir: '/b', skipWhenNewerThanHours: 12 } } }).join('\n'), /Unrecognized key: "skipWhenNewerThanHours"/);
  });

  it('upload: an s3:// URL and an optional http(s) endpoint', () => {
    const parse = (upload: unknown) => parseConfig({ ...base, checks: { backup: { inventory: 'i.yaml', hosts: ['prod'], outDir: '/b', upload } } }, 'cfg');
    assert.deepEqual(parse({ url: 's3://acme-backups/rtcops', endpoint: 'https://s3.example.test' }).checks.backup?.upload, { url: 's3://acme-backups/rtcops', endpoint: 'https://s3.example.test' });
    const problems = (upload: unknown) => {
      try {
        parse(upload);
      } catch (error) {
        if (error instanceof ConfigError) return error.problems.join('\n');
        throw error;
      }
      return '';
    };
    assert.match(problems({ url: '/var/backups' }), /^checks\.backup\.upload\.url: an S3 URL: s3:\/\/<bucket>\/<prefix>/);
    assert.match(problems({ url: 's3://Bad_Bucket/x' }), /checks\.backup\.upload\.url/);
    assert.match(problems({ url: 's3://acme-backups', endpoint: 'ftp://s3.example.test' }), /^checks\.backup\.upload\.endpoint: /);
    assert.match(problems({ url: 's3://acme-backups', accessKey: 'AKIA' }), /Unrecognized key: "accessKey"/);
  });
});

describe('DAEMON_CHECK_NAMES', () => {
  it('is every check the config schema knows, backup included (RUNBOOK anchors are checked against it)', () => {
    assert.deepEqual([...DAEMON_CHECK_NAMES], Object.keys(daemonConfigSchema.shape.checks.shape));
    assert.ok(DAEMON_CHECK_NAMES.includes('backup'));
  });

  it('check.mjs --only (per host) does not know backup', () => {
    assert.ok(!ALL_CHECKS.includes('backup'));
  });
});
