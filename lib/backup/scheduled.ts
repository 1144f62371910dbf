import { basename, resolve } from 'node:path';
import { InventoryError, loadInventory, resolveHostInputs, Secret, selectHost, type HostSecrets, type ResolvedHost } from '../inventory/index.js';
import { listArchives } from './archive.js';
import { backupHost } from './backup.js';
import { BackupKeyError, loadKey, type BackupKey } from './key.js';
import { RemoteStoreError, S3Store } from './remote.js';
import { DEFAULT_RETENTION, type RetentionPolicy } from './retention.js';

/** What the health daemon's `backup` check needs to back hosts up on its schedule (lib/daemon-config.ts). */
export interface ScheduledBackupConfig {
  inventory: string;
  hosts: string[];
  outDir: string;
  keyFile?: string | undefined;
  retention?: Partial<RetentionPolicy> | undefined;
  /** The off-site copy (credentials from the environment). */
  upload?: { url: string; endpoint?: string | undefined } | undefined;
}

export interface HostBackupResult {
  host: string;
  ok: boolean;
  file?: string | undefined;
  bytes?: number | undefined;
  release?: string | null | undefined;
  uploaded?: string | undefined;
  error?: string | undefined;
  hint?: string | undefined;
  /** The newest archive for the host after the run (the fresh one, or the last good one when this run failed). */
  newest?: { file: string; at: Date } | undefined;
}

export interface PreparedBackup {
  backup(host: string): Promise<HostBackupResult>;
  newest(host: string): { file: string; at: Date } | undefined;
}

/**
 * Loads the inventory, the named hosts, their secrets and the backup key once, at daemon start: every problem is
 * reported then (naming the variable, host or file), not at 3 a.m. Throws a list of problems.
 */
export async function prepareScheduledBackup(cfg: ScheduledBackupConfig, env: Record<string, string | undefined> = process.env): Promise<PreparedBackup> {
  const problems: string[] = [];
  const hosts = new Map<string, { host: ResolvedHost; secrets: HostSecrets }>();
  let inventoryName = basename(cfg.inventory);
  try {
    const inventory = loadInventory(resolve(cfg.inventory));
    inventoryName = basename(inventory.file);
    for (const name of cfg.hosts) {
      try {
        const host = selectHost(inventory, name);
        hosts.set(name, { host, secrets: resolveHostInputs(host, inventory.file, 'connect', env) });
      } catch (error) {
        problems.push(error instanceof InventoryError ? error.issues.map((i) => `${i.path}: ${i.message}`).join('; ') : `checks.backup.hosts: ${(error as Error).message}`);
      }
    }
  } catch (error) {
    problems.push(error instanceof InventoryError ? error.message.replace(/\n\s*/g, '; ') : `checks.backup.inventory: ${(error as Error).message}`);
  }
  let key: BackupKey | undefined;
  try {
    key = await loadKey(cfg.keyFile === undefined ? undefined : resolve(cfg.keyFile), env);
  } catch (error) {
    problems.push(error instanceof BackupKeyError ? `checks.backup: ${error.message} (${error.hint})` : (error as Error).message);
  }
  let remote: S3Store | undefined;
  if (cfg.upload !== undefined) {
    try {
      remote = S3Store.fromEnv(cfg.upload.url, env, cfg.upload.endpoint);
    } catch (error) {
      problems.push(error instanceof RemoteStoreError ? `checks.backup.upload: ${error.message} (${error.hint})` : (error as Error).message);
    }
  }
  if (problems.length > 0 || key === undefined) {
    remote?.close();
    throw new ScheduledBackupError(problems);
  }
  const sealed = key;
  const outDir = resolve(cfg.outDir);
  const retention: RetentionPolicy = { ...DEFAULT_RETENTION, ...cfg.retention };
  const newest = (name: string) => {
    const h = hosts.get(name)?.host;
    return h === undefined ? undefined : listArchives(`${outDir}/${h.name}`, h.app.name, h.name)[0];
  };
  return {
    newest,
    async backup(name) {
      const h = hosts.get(name);
      if (h === undefined) return { host: name, ok: false, error: `${name} is not prepared` };
      const r = await backupHost(h.host, h.secrets, { outDir, inventoryName, key: sealed, retention, remote });
      // The result goes to alerts and logs: a host secret that ever made it into an error message does not.
      const scrub = (text: string | undefined) => (text === undefined ? undefined : secretValues(h.secrets).reduce((t, v) => t.split(v).join('[secret]'), text));
      // A failed upload leaves a good local archive: say so, the alert is about the off-site copy.
      const error = r.status !== 'ok' && r.file !== undefined ? `${r.error ?? '?'} (the local archive ${basename(r.file)} is fine)` : r.error;
      return { host: name, ok: r.status === 'ok', file: r.file, bytes: r.bytes, release: r.release, uploaded: r.uploaded, error: scrub(error), hint: scrub(r.hint), newest: newest(name) };
    },
  };
}

function secretValues(s: HostSecrets): string[] {
  return Object.values(s).flatMap((v) => (v instanceof Secret && v.reveal() !== '' ? [v.reveal()] : []));
}

export class ScheduledBackupError extends Error {
  override name = 'ScheduledBackupError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}
