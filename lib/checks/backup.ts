import type { Check, Outcome, Value } from './result.js';

/** What one backup run of one host reported (lib/backup/scheduled.ts, around backupHost). */
export interface BackupRun {
  ok: boolean;
  file?: string | undefined;
  bytes?: number | undefined;
  release?: string | null | undefined;
  /** s3://… of the off-site copy, when the job uploads. */
  uploaded?: string | undefined;
  error?: string | undefined;
  hint?: string | undefined;
}

/** An archive in <outDir>/<host>/, dated by its name (listArchives). */
export interface ArchiveRef {
  file: string;
  at: Date;
}

/**
 * The scheduled backup job the check drives (lib/backup/scheduled.ts). The check only imports this type: the job
 * itself (ssh2, age) is loaded with a dynamic import where the daemon runs it, so the host bundle leaves it out.
 */
export interface BackupJob {
  backup(host: string): Promise<BackupRun>;
  /** The newest archive of the host in outDir, or undefined. */
  newest(host: string): ArchiveRef | undefined;
}

export interface BackupCheckOptions {
  hosts: string[];
  /** Older than this, the newest archive of a host is stale: critical. */
  maxAgeHours: number;
}

const HOUR = 3_600_000;
const ago = (ms: number) => (ms < 2 * HOUR ? `${Math.max(0, Math.round(ms / 60_000))} min` : `${(ms / HOUR).toFixed(1)} h`);
const baseName = (file: string) => file.split('/').pop() ?? file;
const when = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/**
 * One host's result after a run. A failed run is critical (the error and its fix, and when the last good archive
 * was); the newest archive older than maxAgeHours is critical (stale: when the last good one was); otherwise ok with
 * the archive's name, age, size and release.
 */
export function gradeBackup(host: string, o: { maxAgeHours: number }, run: BackupRun, newest: ArchiveRef | undefined, now: Date): Outcome {
  const age = newest === undefined ? undefined : now.getTime() - newest.at.getTime();
  const ageHours = age === undefined ? null : Math.round((age / HOUR) * 10) / 10;
  const stale = age === undefined || age > o.maxAgeHours * HOUR;
  const last = newest === undefined || age === undefined
    ? 'no archive of it exists yet'
    : `the last good archive is ${baseName(newest.file)}, from ${when(newest.at)} (${ago(age)} ago)`;
  const staleNote = `backups of ${host} are stale (at most ${o.maxAgeHours} h allowed)`;
  const outcome = (status: Outcome['status'], message: string, values: Record<string, Value>): Outcome => ({ check: 'backup', target: host, status, message, values });
  if (!run.ok) {
    const values = { ageHours, ...(newest !== undefined ? { file: baseName(newest.file) } : {}) };
    return outcome('critical', `backup of ${host} failed: ${run.error ?? 'unknown error'}${run.hint === undefined ? '' : ` (fix: ${run.hint})`}; ${last}${stale ? `; ${staleNote}` : ''}`, values);
  }
  if (newest === undefined || stale) {
    return outcome('critical', `${staleNote}: ${last}`, { ageHours, ...(newest !== undefined ? { file: baseName(newest.file) } : {}) });
  }
  const file = baseName(run.file ?? newest.file);
  const size = run.bytes === undefined ? '' : `, ${(run.bytes / 1048576).toFixed(1)} MB`;
  const release = run.release === undefined || run.release === null ? '' : `, release ${run.release}`;
  const uploaded = run.uploaded === undefined ? '' : `, uploaded to ${run.uploaded}`;
  return outcome('ok', `backed up ${host}: ${file}${size}${release}${uploaded}`, { ageHours, bytes: run.bytes ?? null, release: run.release ?? null, file, ...(run.uploaded !== undefined ? { uploaded: run.uploaded } : {}) });
}

/**
 * Backs each host up in turn, on every run (the schedule is the contract: a fresh archive does not skip a run, and
 * --once backs up too), then reports per host. Runs on the machine that keeps the archives, not on a host.
 */
export class BackupCheck implements Check {
  readonly name = 'backup';
  readonly targets: string[];

  constructor(private readonly o: BackupCheckOptions, private readonly job: () => Promise<BackupJob>, private readonly now: () => Date = () => new Date()) {
    this.targets = o.hosts;
  }

  async run(signal?: AbortSignal): Promise<Outcome[]> {
    const job = await this.job();
    const out: Outcome[] = [];
    for (const host of this.o.hosts) {
      // Past the deadline the runner has already reported every host critical: do not start another backup.
      if (signal?.aborted === true) break;
      let run: BackupRun;
      try {
        run = await job.backup(host);
      } catch (error) {
        run = { ok: false, error: (error as Error).message };
      }
      out.push(gradeBackup(host, this.o, run, job.newest(host), this.now()));
    }
    return out;
  }
}
