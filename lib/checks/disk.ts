import { readFile, statfs } from 'node:fs/promises';
import { combine, grade, type Check, type Finding, type Outcome } from './result.js';

export interface DiskOptions {
  /** Mount points that must be mounted (a data or log volume): one that is not is critical. */
  mounts: string[];
  /** Also watch every real filesystem mounted (block devices and network filesystems; never proc, tmpfs, squashfs...). */
  allFilesystems: boolean;
  warnPercent: number;
  criticalPercent: number;
  inodeWarnPercent: number;
  inodeCriticalPercent: number;
}

/** Filesystems that hold data: on a block device, or a network share. `/` is watched whatever its type (overlay in a container). */
export const REAL_FILESYSTEMS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'bcachefs', 'f2fs', 'jfs', 'reiserfs', 'vfat', 'exfat', 'ntfs', 'ntfs3', 'fuseblk', 'nfs', 'nfs4', 'cifs', 'smb3']);

interface Mounted {
  mount: string;
  device: string;
  fstype: string;
}

/** Octal escapes (\040 for a space) as the kernel writes them in mountinfo. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** /proc/self/mountinfo: mount point, device (major:minor) and filesystem type of every mount, in mount order. */
export function parseMountinfo(text: string): Mounted[] {
  return text.split('\n').flatMap((line) => {
    const [left, right] = line.split(' - ');
    const f = left?.split(' ') ?? [];
    const fstype = right?.split(' ')[0];
    if (f.length < 5 || fstype === undefined) return [];
    return [{ mount: unescape(f[4] ?? ''), device: f[2] ?? '', fstype }];
  });
}

/**
 * What the check watches: `/`, every real filesystem once (a bind mount, or the daemon's own PrivateTmp and ProtectHome
 * mounts, shows one device several times: its shortest mount point stands for it), and every named mount, each
 * marked missing when nothing is mounted exactly there.
 */
export function watchedMounts(mounted: Mounted[], o: Pick<DiskOptions, 'mounts' | 'allFilesystems'>): { mount: string; missing: boolean }[] {
  // A mount point mounted over again counts once, as its last (visible) mount.
  const visible = new Map(mounted.map((m) => [m.mount, m]));
  const byDevice = new Map<string, string>();
  if (o.allFilesystems) {
    for (const m of visible.values()) {
      if (m.mount !== '/' && !REAL_FILESYSTEMS.has(m.fstype)) continue;
      const seen = byDevice.get(m.device);
      if (seen === undefined || m.mount.length < seen.length) byDevice.set(m.device, m.mount);
    }
  }
  const auto = [...new Set(['/', ...byDevice.values()])];
  const named = o.mounts.filter((m) => !auto.includes(m));
  return [...auto.map((mount) => ({ mount, missing: false })), ...named.map((mount) => ({ mount, missing: !visible.has(mount) }))].sort((a, b) => a.mount.localeCompare(b.mount));
}

const MIB = 1024 * 1024;

/** Space and inodes of each watched filesystem, computed as df does (reserved blocks count as used). */
export class DiskCheck implements Check {
  readonly name = 'disk';
  private watched: string[];

  constructor(private readonly o: DiskOptions, private readonly mountinfo = '/proc/self/mountinfo') {
    this.watched = [...new Set(['/', ...o.mounts])];
  }

  /** The mounts of the last run (at first `/` and the named ones), so a timeout lands on the right alerts. */
  get targets(): string[] {
    return this.watched;
  }

  private async usage(mount: string): Promise<Outcome> {
    let s: Awaited<ReturnType<typeof statfs>>;
    try {
      s = await statfs(mount);
    } catch (error) {
      return { check: this.name, target: mount, status: 'critical', message: `cannot stat ${mount}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, values: {} };
    }
    const used = s.blocks - s.bfree;
    const usedPercent = Math.round((used / Math.max(1, used + s.bavail)) * 1000) / 10;
    const freeMiB = Math.round((s.bavail * s.bsize) / MIB);
    const inodesUsedPercent = s.files === 0 ? 0 : Math.round(((s.files - s.ffree) / s.files) * 1000) / 10;
    const space: Finding = { status: grade(usedPercent, this.o.warnPercent, this.o.criticalPercent), message: `${mount} is ${usedPercent}% full, ${freeMiB} MiB free (warning at ${this.o.warnPercent}%, critical at ${this.o.criticalPercent}%)`, values: { usedPercent, freeMiB } };
    const inodes: Finding = { status: grade(inodesUsedPercent, this.o.inodeWarnPercent, this.o.inodeCriticalPercent), message: `${mount} has used ${inodesUsedPercent}% of its inodes (warning at ${this.o.inodeWarnPercent}%, critical at ${this.o.inodeCriticalPercent}%)`, values: { inodesUsedPercent } };
    return { check: this.name, target: mount, ...combine([space, inodes], `${mount} is ${usedPercent}% full (${freeMiB} MiB free), ${inodesUsedPercent}% inodes used`) };
  }

  async run(): Promise<Outcome[]> {
    const watched = watchedMounts(parseMountinfo(await readFile(this.mountinfo, 'utf8')), this.o);
    this.watched = watched.map((w) => w.mount);
    return Promise.all(watched.map((w) => w.missing
      ? { check: this.name, target: w.mount, status: 'critical' as const, message: `${w.mount} is not mounted: what is written there fills the filesystem under it (mount it, or remove it from daemon.diskMounts)`, values: { mounted: false } }
      : this.usage(w.mount)));
  }
}
