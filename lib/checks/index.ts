import { daemonConfigSchema, type ChecksConfig, type DaemonSecrets } from '../daemon-config.js';
import { BackupCheck, type BackupJob } from './backup.js';
import { DiskCheck } from './disk.js';
import { MediaProbeCheck } from './media-probe.js';
import { Pm2Check } from './pm2.js';
import type { Check } from './result.js';
import { ServerCheck } from './server.js';
import { ServicesCheck } from './services.js';
import { SystemCheck } from './system.js';
import { TlsExpiryCheck } from './tls-expiry.js';
import { TurnCheck } from './turn.js';
import { TurnPeersCheck } from './turn-peers.js';

export interface ScheduledCheck {
  check: Check;
  schedule: string;
  timeoutMs: number;
}

/**
 * Every check the daemon can run (each key of the config's `checks`, so it cannot drift from the schema): also the
 * RUNBOOK.md anchors its alerts link to (<runbookUrl>#<check>).
 */
export const DAEMON_CHECK_NAMES: readonly (keyof ChecksConfig)[] = Object.freeze(Object.keys(daemonConfigSchema.shape.checks.shape) as (keyof ChecksConfig)[]);

/**
 * The backup job, loaded at run time from the rtcops checkout (dist/lib/backup): the bundle installed on hosts leaves
 * it out (it runs on the machine that keeps the archives, with SSH to the hosts).
 */
export async function loadBackupJob(cfg: NonNullable<ChecksConfig['backup']>, env: Record<string, string | undefined> = process.env): Promise<BackupJob> {
  const path = '../backup/scheduled.js';
  let mod: typeof import('../backup/scheduled.js');
  try {
    mod = (await import(path)) as typeof mod;
  } catch (error) {
    throw new Error(`the backup check runs from an rtcops checkout (node dist/daemon/main.js after npm ci), not from the daemon installed on a host: ${(error as Error).message}`);
  }
  return mod.prepareScheduledBackup({
    inventory: cfg.inventory, hosts: cfg.hosts, outDir: cfg.outDir, keyFile: cfg.keyFile, upload: cfg.upload,
    retention: { ...(cfg.keepDaily !== undefined ? { daily: cfg.keepDaily } : {}), ...(cfg.keepWeekly !== undefined ? { weekly: cfg.keepWeekly } : {}), ...(cfg.keepMonthly !== undefined ? { monthly: cfg.keepMonthly } : {}) },
  }, env);
}

/** What some checks read besides their own section: the backup job (loaded at start), the deploy marker (lib/deploy). */
export interface CheckContext {
  backupJob?: BackupJob | undefined;
  deployMarker?: string | undefined;
}

/** One check per configured section; secrets were checked present by secretsFromEnv (the backup job's by loadBackupJob). */
export function buildChecks(c: ChecksConfig, s: DaemonSecrets, ctx: CheckContext = {}): ScheduledCheck[] {
  const backupJob = ctx.backupJob;
  const out: ScheduledCheck[] = [];
  const add = (cfg: { schedule: string; timeoutMs: number }, check: Check) => out.push({ check, schedule: cfg.schedule, timeoutMs: cfg.timeoutMs });
  const secret = (v: string | undefined) => v ?? '';
  if (c['tls-expiry']) add(c['tls-expiry'], new TlsExpiryCheck({ ...c['tls-expiry'], connectTimeoutMs: Math.min(5000, c['tls-expiry'].timeoutMs) }));
  if (c.disk) add(c.disk, new DiskCheck(c.disk));
  if (c.system) add(c.system, new SystemCheck(c.system));
  if (c.turn) add(c.turn, new TurnCheck({ ...c.turn, secret: secret(s.turnSecret) }));
  if (c['turn-peers']) add(c['turn-peers'], new TurnPeersCheck({ ...c['turn-peers'], secret: secret(s.turnSecret) }));
  if (c.server) add(c.server, new ServerCheck({ ...c.server, adminToken: secret(s.adminToken), jwtSecret: secret(s.jwtSecret) }));
  if (c.pm2) add(c.pm2, new Pm2Check({ ...c.pm2, deployMarker: ctx.deployMarker }));
  if (c.services) add(c.services, new ServicesCheck(c.services.units));
  if (c['media-probe']) add(c['media-probe'], new MediaProbeCheck({ ...c['media-probe'], jwtSecret: secret(s.jwtSecret), turnSecret: s.turnSecret }));
  if (c.backup) {
    const cfg = c.backup;
    add(cfg, new BackupCheck(cfg, async () => backupJob ?? loadBackupJob(cfg)));
  }
  return out;
}
