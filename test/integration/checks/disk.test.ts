import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DiskCheck, type DiskOptions } from '../../../lib/checks/disk.js';
import type { Outcome } from '../../../lib/checks/result.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-disk-'));
const mnt = join(dir, 'data');
const loop = join(dir, 'logs');
const image = join(dir, 'logs.img');
const thresholds = { warnPercent: 80, criticalPercent: 90, inodeWarnPercent: 80, inodeCriticalPercent: 90 };
const check = (o: Partial<DiskOptions>) => new DiskCheck({ mounts: [], allFilesystems: true, ...thresholds, ...o });
const of = (rs: Outcome[], target: string) => {
  const r = rs.find((x) => x.target === target);
  assert.ok(r, `a result for ${target} among ${rs.map((x) => x.target).join(', ')}`);
  return r;
};

describe('disk: real filesystems found by themselves, a named volume filled and unmounted', () => {
  before(() => {
    mkdirSync(mnt);
    mkdirSync(loop);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,nr_inodes=200', 'tmpfs', mnt]);
    execFileSync('truncate', ['-s', '8M', image]);
    execFileSync('mkfs.ext4', ['-q', image]);
    execFileSync('mount', ['-o', 'loop', image, loop]);
  });
  after(() => {
    for (const m of [mnt, loop]) execFileSync('umount', [m], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('by default: / and every real filesystem (an ext4 volume just mounted), never tmpfs, proc or sysfs', async () => {
    const rs = await check({}).run();
    assert.equal(of(rs, '/').status, 'ok');
    assert.match(of(rs, loop).message, /is \d+(\.\d)?% full/);
    for (const r of rs) assert.ok(!r.target.startsWith('/proc') && !r.target.startsWith('/sys') && r.target !== mnt, `${r.target} is not a real filesystem`);
  });

  const KiB = 1024;
  const steps: [string, number, 'ok' | 'warn' | 'critical', RegExp][] = [
    ['empty', 0, 'ok', /is 0% full/],
    ['85% full', 3482 * KiB, 'warn', /is 8\d(\.\d)?% full, \d MiB free \(warning at 80%, critical at 90%\)/],
    ['95% full', 3891 * KiB, 'critical', /is 9\d(\.\d)?% full/],
  ];
  for (const [name, bytes, status, message] of steps) {
    it(`a named mount (a tmpfs, watched because it is named) ${name} → ${status}`, async () => {
      writeFileSync(join(mnt, 'fill'), Buffer.alloc(bytes));
      const r = of(await check({ mounts: [mnt] }).run(), mnt);
      assert.equal(r.status, status, r.message);
      assert.match(r.message, message);
    });
  }

  it('inodes running out is reported even with free space', async () => {
    rmSync(join(mnt, 'fill'));
    for (let i = 0; i < 185; i++) writeFileSync(join(mnt, `f${i}`), '');
    const r = of(await check({ mounts: [mnt] }).run(), mnt);
    assert.equal(r.status, 'critical', r.message);
    assert.match(r.message, /used 9\d(\.\d)?% of its inodes/);
  });

  it('a named mount that disappears is critical, not the parent filesystem reported healthy; back, it is measured again', async () => {
    const c = check({ mounts: [mnt, loop] });
    execFileSync('umount', [loop]);
    const gone = of(await c.run(), loop);
    assert.equal(gone.status, 'critical');
    assert.match(gone.message, /is not mounted: what is written there fills the filesystem under it/);
    assert.ok(c.targets.includes(loop), 'still a target: its alert resolves when it is back');
    execFileSync('mount', ['-o', 'loop', image, loop]);
    assert.equal(of(await c.run(), loop).status, 'ok');
  });
});
