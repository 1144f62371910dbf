import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gradeBackup } from '../../../daemon/checks/backup.js';
import { DAEMON_CHECK_NAMES } from '../../../daemon/checks/index.js';
import { daemonConfigSchema } from '../../../daemon/config.js';

const now = new Date('2026-11-23T05:00:00Z');
const at = (hoursAgo: number) => ({ file: `/b/loop/rtcops-loop-x-${hoursAgo}.tar.gz`, at: new Date(now.getTime() - hoursAgo * 3_600_000) });
const o = { maxAgeHours: 26 };

describe('gradeBackup: one result per host', () => {
  it('a successful run: ok with the archive, its size and release', () => {
    const r = gradeBackup('loop', o, { attempted: true, ok: true, bytes: 3 * 1048576, release: '20261123T040000Z-abc' }, at(0), now);
    assert.deepEqual(r, { check: 'backup', target: 'loop', status: 'ok', message: 'backed up loop: rtcops-loop-x-0.tar.gz, 3.0 MB', values: { ageHours: 0, bytes: 3145728, release: '20261123T040000Z-abc' } });
  });

  it('a failed run is critical and says how old the last good archive is, or that there is none', () => {
    assert.equal(gradeBackup('loop', o, { attempted: true, ok: false, error: 'connect ECONNREFUSED', hint: 'is the host up?' }, at(5), now).message,
      'backup of loop failed: connect ECONNREFUSED (fix: is the host up?); the newest archive is rtcops-loop-x-5.tar.gz, 5.0 h old');
    const none = gradeBackup('loop', o, { attempted: true, ok: false, error: 'boom' }, undefined, now);
    assert.equal(none.status, 'critical');
    assert.equal(none.message, 'backup of loop failed: boom; no archive of it exists yet');
    assert.equal(none.values['ageHours'], null);
  });

  it('no run (fresh enough) but the newest archive is past maxAgeHours: critical, stale', () => {
    const r = gradeBackup('loop', o, { attempted: false, ok: true }, at(27), now);
    assert.equal(r.status, 'critical');
    assert.equal(r.message, 'backups of loop are stale: the newest archive is rtcops-loop-x-27.tar.gz, 27.0 h old (at most 26 h allowed)');
  });

  it('no run and a recent archive: ok, saying when; minutes below two hours', () => {
    assert.equal(gradeBackup('loop', o, { attempted: false, ok: true }, at(0.5), now).message, 'loop was backed up 30 min ago (rtcops-loop-x-0.5.tar.gz); not again yet');
  });
});

describe('DAEMON_CHECK_NAMES', () => {
  it('is exactly the checks the config schema knows (RUNBOOK anchors derive from them)', () => {
    assert.deepEqual([...DAEMON_CHECK_NAMES].sort(), Object.keys(daemonConfigSchema.shape.checks.shape).sort());
  });
});
