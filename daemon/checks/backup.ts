import type { Check, Outcome } from './result.js';

/** The scheduled backup job the check drives (lib/backup/scheduled.ts): loaded only where the daemon runs it. */
export interface BackupJob {
  backup(host: string): Promise<{ ok: boolean; file?: string | undefined; bytes?: number | undefined; release?: string | null | undefined; error?: string | undefined; hint?: string | undefined }>;
  newest(host: string): { file: string; at: Date } | undefined;
}

export interface BackupCheckOptions {
  hosts: string[];
  /** Older than this, the newest archive of a host is stale: critical. */
  maxAgeHours: number;
  /** A run finding an archive newer than this does not back up again (a daemon restart is not a backup schedule). */
  skipWhenNewerThanHours: number;
}

const HOUR = 3_600_000;
const ago = (ms: number) => (ms < 2 * HOUR ? `${Math.round(ms / 60_000)} min` : `${(ms / HOUR).toFixed(1)} h`);
const name = (file: string) => file.split('/').pop() ?? file;

/**
 * One host's result: a failed run is critical (with the last good archive's age), an archive older than the
 * schedule allows is critical (stale), otherwise ok with the archive, its age and size.
 */
export function gradeBackup(host: string, o: { maxAgeHours: number }, run: { attempted: boolean; ok: boolean; error?: string | undefined; hint?: string | undefined; bytes?: number | undefined; release?: string | null | undefined },
  newest: { file: string; at: Date } | undefined, now: Date): Outcome {
  const age = newest === undefined ? undefined : now.getTime() - newest.at.getTime();
  const ageHours = age === undefined ? null : Math.round((age / HOUR) * 10) / 10;
  const values = { ageHours, ...(run.bytes !== undefined ? { bytes: run.bytes } : {}), ...(run.release !== undefined && run.release !== null ? { release: run.release } : {}) };
  const last = newest === undefined ? 'no archive of it exists yet' : `the newest archive is ${name(newest.file)}, ${ago(age ?? 0)} old`;
  if (run.attempted && !run.ok) {
    return { check: 'backup', target: host, status: 'critical', message: `backup of ${host} failed: ${run.error ?? 'unknown error'}${run.hint === undefined ? '' : ` (fix: ${run.hint})`}; ${last}`, values };
  }
  if (newest === undefined || (age ?? 0) > o.maxAgeHours * HOUR) {
    return { check: 'backup', target: host, status: 'critical', message: `backups of ${host} are stale: ${last} (at most ${o.maxAgeHours} h allowed)`, values };
  }
  const size = run.bytes === undefined ? '' : `, ${(run.bytes / 1048576).toFixed(1)} MB`;
  return { check: 'backup', target: host, status: 'ok', message: run.attempted ? `backed up ${host}: ${name(newest.file)}${size}` : `${host} was backed up ${ago(age ?? 0)} ago (${name(newest.file)}); not again yet`, values };
}

/** Backs each host up in turn (on the machine that keeps the archives) and reports per host. */
export class BackupCheck implements Check {
  readonly name = 'backup';
  readonly targets: string[];

  constructor(private readonly o: BackupCheckOptions, private readonly job: () => Promise<BackupJob>, private readonly now: () => Date = () => new Date()) {
    this.targets = o.hosts;
  }

  async run(): Promise<Outcome[]> {
    const job = await this.job();
    const out: Outcome[] = [];
    for (const host of this.o.hosts) {
      const before = job.newest(host);
      const fresh = before !== undefined && this.now().getTime() - before.at.getTime() < this.o.skipWhenNewerThanHours * HOUR;
      const run = fresh ? { attempted: false, ok: true } : { attempted: true, ...(await job.backup(host)) };
      out.push(gradeBackup(host, this.o, run, job.newest(host), this.now()));
    }
    return out;
  }
}
