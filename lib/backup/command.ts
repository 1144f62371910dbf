import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { EXIT, UsageError, parseCli, type Io } from '../cli.js';
import { selectTargets } from '../host/index.js';
import { loadInventory, probeReach, readProbeCa, resolveHostInputs, selectHost, type HostSecrets } from '../inventory/index.js';
import { progressLine, secs, type PhaseReport } from '../report/phases.js';
import { listArchives, openArchive } from './archive.js';
import { backupHost, type BackupReport } from './backup.js';
import { BackupKeyError, KEY_ENV, loadKey, writeNewKey, type BackupKey } from './key.js';
import { restoreHost, restoreSummary } from './restore.js';
import { isS3Url, RemoteStoreError, S3Store } from './remote.js';
import { DEFAULT_RETENTION, type RetentionPolicy } from './retention.js';

export function defaultBackupDir(): string {
  return join(process.env['XDG_DATA_HOME'] ?? join(homedir(), '.local', 'share'), 'rtcops', 'backups');
}

const backupSpec = {
  usage: 'backup.mjs <host|group>... [--out DIR] [--key-file FILE] [--upload s3://BUCKET/PREFIX [--s3-endpoint URL]] [--keep-daily N] [--keep-weekly N] [--keep-monthly N]   |   backup.mjs --new-key FILE',
  description: 'Pull a dated, checksummed archive of what rebuilds each host\'s service state: the configs on the host, /etc/letsencrypt (account, renewal config, '
    + 'certificates), the live and previous release, the health daemon\'s alert state and the audit logs. Secret-bearing files (env files, coturn\'s config, '
    + `/etc/letsencrypt) are encrypted with age to the operator's key (--key-file, or ${KEY_ENV}) before anything is written. Archives go to <out>/<host>/ `
    + 'with a .sha256 beside each; older ones are deleted by the retention policy. With --upload each archive is also copied to an S3-compatible bucket '
    + '(<prefix>/<host>/, credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) and the same policy is applied there. Exit status: 0 every host backed up, 1 a host failed (an upload too), 2 usage, inventory, key or bucket error (nothing was backed up).',
  options: {
    out: { type: 'string' },
    'key-file': { type: 'string' },
    'keep-daily': { type: 'string', default: String(DEFAULT_RETENTION.daily) },
    'keep-weekly': { type: 'string', default: String(DEFAULT_RETENTION.weekly) },
    'keep-monthly': { type: 'string', default: String(DEFAULT_RETENTION.monthly) },
    upload: { type: 'string' },
    's3-endpoint': { type: 'string' },
    'new-key': { type: 'string' },
  },
  help: {
    out: `Backup directory (default ${defaultBackupDir()})`,
    'key-file': `age key file, mode 0600: the secret key (the archive is then verified by decrypting it) or only its public key (age1…); default: ${KEY_ENV}`,
    'keep-daily': `Keep the newest backup of each of the last N days (default ${DEFAULT_RETENTION.daily})`,
    'keep-weekly': `... of each of the last N weeks (default ${DEFAULT_RETENTION.weekly})`,
    'keep-monthly': `... of each of the last N months (default ${DEFAULT_RETENTION.monthly})`,
    upload: 'Also copy each archive and its .sha256 to s3://BUCKET/PREFIX/<host>/ (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN, AWS_REGION)',
    's3-endpoint': 'Endpoint of an S3-compatible service (MinIO, Ceph, R2, B2, ...), path-style; default AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS S3',
    'new-key': 'Write a new age key to FILE (mode 0600) and print its public key; keep a copy off the hosts',
  },
} as const;

const restoreSpec = {
  usage: 'restore.mjs <host> --from <archive|dir|s3://…> [--s3-endpoint URL] [--key-file FILE] [--force] [--verify-only] [--probe-direct] [--ca-file PEM]',
  description: 'Rebuild a host from a backup: the archive is verified completely first (checksums, manifest, app name against the inventory, the key decrypts it) '
    + 'and a host that already serves is refused; then provisioning from the inventory with the certificates and ACME account put back first (certbot issues '
    + 'nothing), the live release deployed under its own id through the deploy gate, the alert state, and the health daemon\'s checks. Prints the recovery time. '
    + 'Exit status: 0 restored and no check critical, 1 refused or failed on the host, 2 usage, inventory, key or archive error (nothing was changed).',
  options: {
    from: { type: 'string' },
    's3-endpoint': { type: 'string' },
    'key-file': { type: 'string' },
    force: { type: 'boolean', default: false },
    'verify-only': { type: 'boolean', default: false },
    'probe-direct': { type: 'boolean', default: false },
    'ca-file': { type: 'string' },
  },
  help: {
    from: 'The archive (.tar.gz, with its .sha256 beside it); a backup directory (the newest archive of the host in <dir>/<host>/); or s3://BUCKET/PREFIX[/<host>/<archive>.tar.gz] (that archive, or the newest of the host), downloaded first',
    's3-endpoint': 'Endpoint of an S3-compatible service for --from s3://… (default AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS S3)',
    'key-file': `age secret key file the backup was made with, mode 0600 (default: ${KEY_ENV})`,
    force: 'Restore onto a host that already serves (a current release, or the app running)',
    'verify-only': 'Verify the archive and the key against the inventory, and stop: no connection to the host',
    'probe-direct': 'The deploy gate and the checks connect to ssh.address (names kept): before DNS points at the host. Automatic when no name can resolve (the sandbox)',
    'ca-file': 'Also trust this CA in the gate and the checks (a test ACME CA). Default: the inventory\'s acme.issuerRoots, if set',
  },
} as const;

function count(value: unknown, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${option} takes a whole number ≥ 0`);
  return n;
}

/** Key and archive problems are the operator's input: exit 2, with what to do. */
function inputError(err: Error & { hint?: string }, json: boolean, io: Io, extra: Record<string, unknown> = {}): number {
  io.err(`error: ${err.message}${err.hint !== undefined ? `\nfix: ${err.hint}` : ''}`);
  if (json) io.out(JSON.stringify({ ok: false, error: err.name === 'BackupKeyError' ? 'key' : err.name === 'RemoteStoreError' ? 'remote' : 'archive', message: err.message, hint: err.hint, ...extra }, null, 2));
  return EXIT.usage;
}

export function backupSummary(reports: BackupReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    if (r.status === 'ok') {
      lines.push(`${r.host}: backed up in ${secs(r.ms)} → ${r.file} (${((r.bytes ?? 0) / 1048576).toFixed(1)} MB, sha256 ${r.sha256})`);
      lines.push(`  release ${r.release ?? '(none)'}, previous ${r.previous ?? '(none)'}; ${r.verified ? 'verified: unpacked, checksums match, secrets decrypt' : 'not decrypted again (public key only)'}`);
      if (r.uploaded !== undefined) lines.push(`  uploaded → ${r.uploaded}`);
      if (r.pruned.length > 0) lines.push(`  retention deleted: ${r.pruned.map((p) => basename(p)).join(', ')}`);
      if ((r.remotePruned ?? []).length > 0) lines.push(`  retention deleted in the bucket: ${(r.remotePruned ?? []).map((p) => basename(p)).join(', ')}`);
    } else {
      lines.push(`${r.host}: FAILED after ${secs(r.ms)}: ${r.error ?? '?'}`);
      if (r.file !== undefined) lines.push(`  the local archive is fine: ${r.file}`);
      if (r.hint !== undefined) lines.push(`  fix: ${r.hint}`);
    }
  }
  const failed = reports.filter((r) => r.status !== 'ok').map((r) => r.host);
  lines.push(failed.length > 0 ? `failed on: ${failed.join(', ')}` : `${reports.length} host(s) backed up`);
  return lines.join('\n');
}

export async function backupMain(argv: string[], io: Io): Promise<number> {
  const args = parseCli(backupSpec, argv, io);
  if (args === undefined) return EXIT.ok;
  const newKey = args.values['new-key'];
  if (typeof newKey === 'string') {
    if (args.positionals.length > 0) throw new UsageError('backup: --new-key makes a key and backs up nothing; drop the host names');
    try {
      const recipient = await writeNewKey(resolve(newKey));
      io.out(args.json ? JSON.stringify({ ok: true, file: resolve(newKey), recipient }) : `wrote ${resolve(newKey)} (mode 0600); public key: ${recipient}\nKeep a copy of this file somewhere safe and off the hosts: without it no backup made with it can be restored.`);
      return EXIT.ok;
    } catch (err) {
      if (err instanceof BackupKeyError) return inputError(err, args.json, io);
      throw err;
    }
  }
  if (args.positionals.length === 0) throw new UsageError('backup: name a host or group (e.g. sandbox)');
  const upload = args.values.upload;
  const endpoint = typeof args.values['s3-endpoint'] === 'string' ? args.values['s3-endpoint'] : undefined;
  if (endpoint !== undefined && typeof upload !== 'string') throw new UsageError('backup: --s3-endpoint goes with --upload s3://BUCKET/PREFIX');
  const retention: RetentionPolicy = { daily: count(args.values['keep-daily'], 'keep-daily'), weekly: count(args.values['keep-weekly'], 'keep-weekly'), monthly: count(args.values['keep-monthly'], 'keep-monthly') };
  const inventory = loadInventory(args.inventory);
  const hosts = selectTargets(inventory, args.positionals);
  const secrets = new Map<string, HostSecrets>(hosts.map((h) => [h.name, resolveHostInputs(h, inventory.file, 'connect')]));
  let key: BackupKey;
  try {
    key = await loadKey(typeof args.values['key-file'] === 'string' ? resolve(args.values['key-file']) : undefined);
  } catch (err) {
    if (err instanceof BackupKeyError) return inputError(err, args.json, io);
    throw err;
  }
  const outDir = resolve(typeof args.values.out === 'string' ? args.values.out : defaultBackupDir());
  let remote: S3Store | undefined;
  if (typeof upload === 'string') {
    // The bucket, the credentials and the endpoint are proven before any host is touched.
    try {
      remote = S3Store.fromEnv(upload, process.env, endpoint);
      await remote.check();
    } catch (err) {
      remote?.close();
      if (err instanceof RemoteStoreError) return inputError(err, args.json, io);
      throw err;
    }
  }
  const t0 = Date.now();
  io.err(`backing up ${hosts.map((h) => h.name).join(', ')} to ${outDir}${remote !== undefined ? ` and ${remote.describe()}` : ''}`);
  const reports: BackupReport[] = [];
  try {
    for (const host of hosts) {
      reports.push(await backupHost(host, secrets.get(host.name)!, { outDir, inventoryName: basename(inventory.file), key, retention, remote, onProgress: (e) => io.err(progressLine(e)) }));
    }
  } finally {
    remote?.close();
  }
  const ok = reports.every((r) => r.status === 'ok');
  io.out(args.json ? JSON.stringify({ ok, ms: Date.now() - t0, hosts: reports }, null, 2) : backupSummary(reports));
  return ok ? EXIT.ok : EXIT.failed;
}

export async function restoreMain(argv: string[], io: Io): Promise<number> {
  const args = parseCli(restoreSpec, argv, io);
  if (args === undefined) return EXIT.ok;
  if (args.positionals.length !== 1) throw new UsageError('restore: name exactly one host to restore onto');
  const from = args.values.from;
  if (typeof from !== 'string') throw new UsageError('restore: give the archive with --from <file.tar.gz | backup dir | s3://BUCKET/PREFIX>');
  const endpoint = typeof args.values['s3-endpoint'] === 'string' ? args.values['s3-endpoint'] : undefined;
  if (endpoint !== undefined && !isS3Url(from)) throw new UsageError('restore: --s3-endpoint goes with --from s3://…');
  const caFile = typeof args.values['ca-file'] === 'string' ? resolve(args.values['ca-file']) : undefined;
  const inventory = loadInventory(args.inventory);
  const host = selectHost(inventory, args.positionals[0] ?? '');
  const secrets = resolveHostInputs(host, inventory.file, 'provision');
  let key: BackupKey;
  try {
    key = await loadKey(typeof args.values['key-file'] === 'string' ? resolve(args.values['key-file']) : undefined);
  } catch (err) {
    if (err instanceof BackupKeyError) return inputError(err, args.json, io);
    throw err;
  }
  let download: string | undefined;
  let archive: string;
  let source: string;
  let fetched: PhaseReport | undefined;
  try {
    if (isS3Url(from)) {
      const store = S3Store.fromEnv(from, process.env, endpoint);
      try {
        download = mkdtempSync(join(tmpdir(), 'rtcops-restore-'));
        io.err(`downloading ${isArchiveRef(from) ? from : `the newest backup of ${host.name} from ${store.describe()}`} …`);
        const t = Date.now();
        const got = await store.fetch(from, host.app.name, host.name, download);
        archive = got.file;
        source = `s3://${store.location.bucket}/${got.key}`;
        const detail = `s3://${store.location.bucket}/${got.key} (${(statSync(archive).size / 1048576).toFixed(1)} MB)`;
        fetched = { phase: 'download', status: 'ok', ms: Date.now() - t, detail };
        io.err(`downloaded ${detail} in ${secs(fetched.ms)}`);
      } finally {
        store.close();
      }
    } else {
      archive = newestIn(resolve(from), host.app.name, host.name);
      source = archive;
    }
  } catch (err) {
    if (download !== undefined) rmSync(download, { recursive: true, force: true });
    if (err instanceof RemoteStoreError) return inputError(err, args.json, io, { from });
    throw err;
  }
  try {
    return await restoreFrom(archive, { args, io, host, secrets, key, caFile, source, fetched });
  } finally {
    if (download !== undefined) rmSync(download, { recursive: true, force: true });
  }
}

const isArchiveRef = (ref: string) => ref.endsWith('.tar.gz');

/** --from a directory: the newest archive of the host in <dir>/<host>/ or <dir> itself. A file is itself. */
function newestIn(path: string, app: string, hostName: string): string {
  if (!existsSync(path) || !statSync(path).isDirectory()) return path;
  const found = listArchives(join(path, hostName), app, hostName)[0] ?? listArchives(path, app, hostName)[0];
  if (found === undefined) throw new UsageError(`restore: no backup of ${hostName} (${app}-${hostName}-*.tar.gz) in ${join(path, hostName)} or ${path}; give the archive's file name`);
  return found.file;
}

interface RestoreContext {
  args: { values: Record<string, unknown>; json: boolean };
  io: Io;
  host: ReturnType<typeof selectHost>;
  secrets: HostSecrets;
  key: BackupKey;
  caFile: string | undefined;
  /** What the operator named (the s3:// URL of a downloaded archive), for messages. */
  source: string;
  /** The download from the bucket: part of the recovery. */
  fetched?: PhaseReport | undefined;
}

async function restoreFrom(archive: string, ctx: RestoreContext): Promise<number> {
  const { args, io, host, secrets, key, caFile, source } = ctx;
  // A downloaded archive is named by its URL in messages, not by the temporary file.
  const named = (t: string) => (source === archive ? t : t.split(archive).join(source));
  if (args.values['verify-only'] === true) {
    try {
      const a = await openArchive(archive, key, { app: host.app.name, certName: host.tls.certName });
      a.close();
      const m = a.manifest;
      io.out(args.json ? JSON.stringify({ ok: true, archive: source, sha256: a.sha256, manifest: m }, null, 2)
        : `${source}: OK — ${m.members.length} member(s) match their SHA-256, the secrets decrypt with ${key.source}\n  ${m.app} on ${m.host} (${m.hostInfo.os}), taken ${m.startedAt} by ${m.by}, rtcops ${m.rtcops}\n  release ${m.releases.current?.id ?? '(none)'}, previous ${m.releases.previous?.id ?? '(none)'}; certificate ${m.tls.fingerprint ?? '(none)'} until ${m.tls.notAfter ?? '?'}`);
      return EXIT.ok;
    } catch (err) {
      if (err instanceof Error && (err.name === 'ArchiveError' || err.name === 'BackupKeyError')) {
        err.message = named(err.message);
        return inputError(err as Error & { hint?: string }, args.json, io, { archive: source });
      }
      throw err;
    }
  }
  // The gate and the checks reach the host as deploy.mjs and check.mjs do: --probe-direct (automatic for names no
  // public DNS resolves), trusting --ca-file, else the inventory's acme.issuerRoots.
  const reach = probeReach(host, { probeDirect: args.values['probe-direct'] === true, caFile });
  try {
    readProbeCa(host, reach.caFile, caFile !== undefined);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (reach.note !== undefined) io.err(`[${host.name}] ${reach.note}`);
  io.err(`restoring ${host.name} from ${source}`);
  const restored = await restoreHost(host, secrets, {
    archive, key, force: args.values.force === true,
    probe: { address: reach.address, caFile: reach.caFile },
    onProgress: (e) => io.err(progressLine(e)),
  });
  // Recovery counts from the command: the download from the bucket is part of it.
  const report = { ...restored, archive: source, ...(ctx.fetched !== undefined ? { phases: [ctx.fetched, ...restored.phases], recoveryMs: restored.recoveryMs + ctx.fetched.ms } : {}), ...(restored.error !== undefined ? { error: named(restored.error) } : {}), ...(restored.hint !== undefined ? { hint: named(restored.hint) } : {}) };
  io.out(args.json ? JSON.stringify({ ok: report.status === 'ok', ...report }, null, 2) : restoreSummary(report));
  return report.status === 'ok' ? EXIT.ok : report.status === 'rejected' ? EXIT.usage : EXIT.failed;
}
