import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DiskCheck } from '../../../lib/checks/disk.js';

const mnt = mkdtempSync(join(tmpdir(), 'rtcops-disk-'));
const check = new DiskCheck({ mounts: [mnt], warnPercent: 80, criticalPercent: 90, inodeWarnPercent: 80, inodeCriticalPercent: 90 });
const run = async () => {
  const [r] = await check.run();
  assert.ok(r);
  return r;
};

describe('disk: a real 4 MiB tmpfs filled past the thresholds', () => {
  before(() => execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,nr_inodes=200', 'tmpfs', mnt]));
  after(() => {
    execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  const KiB = 1024;
  const steps: [string, number, 'ok' | 'warn' | 'critical', RegExp][] = [
    ['empty', 0, 'ok', /is 0% full \(4096 MiB|is 0% full/],
    ['85% full', 3482 * KiB, 'warn', /is 8\d(\.\d)?% full, \d MiB free \(warning at 80%, critical at 90%\)/],
    ['95% full', 3891 * KiB, 'critical', /is 9\d(\.\d)?% full/],
  ];
  for (const [name, bytes, status, message] of steps) {
    it(`${name} → ${status}`, async () => {
      writeFileSync(join(mnt, 'fill'), Buffer.alloc(bytes));
      const r = await run();
      assert.equal(r.status, status, r.message);
      assert.match(r.message, message);
      assert.equal(r.target, mnt);
    });
  }

  it('inodes running out is reported even with free space', async () => {
    rmSync(join(mnt, 'fill'));
    for (let i = 0; i < 185; i++) writeFileSync(join(mnt, `f${i}`), '');
    const r = await run();
    assert.equal(r.status, 'critical', r.message);
    assert.match(r.message, /used 9\d(\.\d)?% of its inodes/);
  });

  it('a missing mount is critical', async () => {
    const [r] = await new DiskCheck({ mounts: [join(mnt, 'nope')], warnPercent: 80, criticalPercent: 90, inodeWarnPercent: 80, inodeCriticalPercent: 90 }).run();
    assert.equal(r?.status, 'critical');
    assert.match(r?.message ?? '', /cannot stat .*ENOENT/);
  });
});
