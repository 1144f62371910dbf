import { statfs } from 'node:fs/promises';
import { combine, grade, type Check, type Finding, type Outcome } from './result.js';

export interface DiskOptions {
  mounts: string[];
  warnPercent: number;
  criticalPercent: number;
  inodeWarnPercent: number;
  inodeCriticalPercent: number;
}

const MIB = 1024 * 1024;

/** Space and inodes of each mount, computed as df does (reserved blocks count as used). */
export class DiskCheck implements Check {
  readonly name = 'disk';
  readonly targets: string[];

  constructor(private readonly o: DiskOptions) {
    this.targets = o.mounts;
  }

  async run(): Promise<Outcome[]> {
    return Promise.all(
      this.o.mounts.map(async (mount) => {
        let s: Awaited<ReturnType<typeof statfs>>;
        try {
          s = await statfs(mount);
        } catch (error) {
          return { check: this.name, target: mount, status: 'critical' as const, message: `cannot stat ${mount}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, values: {} };
        }
        const used = s.blocks - s.bfree;
        const usedPercent = Math.round((used / Math.max(1, used + s.bavail)) * 1000) / 10;
        const freeMiB = Math.round((s.bavail * s.bsize) / MIB);
        const inodesUsedPercent = s.files === 0 ? 0 : Math.round(((s.files - s.ffree) / s.files) * 1000) / 10;
        const space: Finding = { status: grade(usedPercent, this.o.warnPercent, this.o.criticalPercent), message: `${mount} is ${usedPercent}% full, ${freeMiB} MiB free (warning at ${this.o.warnPercent}%, critical at ${this.o.criticalPercent}%)`, values: { usedPercent, freeMiB } };
        const inodes: Finding = { status: grade(inodesUsedPercent, this.o.inodeWarnPercent, this.o.inodeCriticalPercent), message: `${mount} has used ${inodesUsedPercent}% of its inodes (warning at ${this.o.inodeWarnPercent}%, critical at ${this.o.inodeCriticalPercent}%)`, values: { inodesUsedPercent } };
        return { check: this.name, target: mount, ...combine([space, inodes], `${mount} is ${usedPercent}% full (${freeMiB} MiB free), ${inodesUsedPercent}% inodes used`) };
      }),
    );
  }
}
