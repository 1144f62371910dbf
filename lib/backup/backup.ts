import { execFile } from 'node:child_process';
import { chmodSync, createWriteStream, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readArtifact } from '../deploy/artifact.js';
import { operator as by, sshTo } from '../host/index.js';
import type { HostSecrets, ResolvedHost } from '../inventory/index.js';
import { Phases, recordError, type PhaseReport, type Progress } from '../report/phases.js';
import { RemoteError, tail } from '../runner/errors.js';
import type { Connect, Runner } from '../runner/runner.js';
import { archiveName, listArchives, openArchive, packArchive, SECRETS_MEMBER, FORMAT, type Manifest, type Member, type ReleaseRef } from './archive.js';
import { backupPaths, inspectScript, releaseTarScript, tarArgv, type HostInspection } from './commands.js';
import { encryptTo, type BackupKey } from './key.js';
import type { S3Store } from './remote.js';
import { DEFAULT_RETENTION, retain, type RetentionPolicy } from './retention.js';
import { rtcopsVersion } from './version.js';

const run = promisify(execFile);

export interface BackupOptions {
  /** Archives go to <outDir>/<host>/. */
  outDir: string;
  /** The inventory file's name, recorded in the manifest. */
  inventoryName: string;
  key: BackupKey;
  retention?: RetentionPolicy;
  /** Also copy the archive to this bucket (and apply the retention policy there). */
  remote?: S3Store | undefined;
  onProgress?: Progress;
  /** How to reach the host (default: SSH as the inventory says). */
  connect?: Connect;
  /** The clock (tests). */
  now?: () => Date;
}

export interface BackupReport {
  host: string;
  status: 'ok' | 'failed';
  file?: string;
  sha256?: string;
  bytes?: number;
  release?: string | null;
  previous?: string | null;
  /** The archive was opened and checked again with the key (only when the key's secret half was given). */
  verified: boolean;
  pruned: string[];
  /** s3://… of the uploaded archive (with --upload). */
  uploaded?: string;
  /** Keys the retention policy deleted in the bucket. */
  remotePruned?: string[];
  phases: PhaseReport[];
  ms: number;
  error?: string;
  hint?: string;
}

/** Runs a command whose stdout is binary (a tar stream) and hands the chunks to `sink`; exit codes in `ok` pass. */
async function pull(target: Runner, cmd: { argv?: string[]; script?: string }, sink: (c: Buffer) => void, summary: string, ok: number[] = [0]): Promise<void> {
  const opts = { root: true, allowFailure: true, summary, onStdout: sink };
  const r = cmd.argv !== undefined ? await target.exec(cmd.argv, opts) : await target.script(cmd.script ?? 'false', opts);
  if (!ok.includes(r.code ?? -1)) throw new RemoteError(target.name, `${summary} failed (exit ${r.code ?? 'signal'})${r.stderr.trim() === '' ? '' : `: ${tail(r.stderr, 4)}`}`);
}

async function pullToFile(target: Runner, cmd: { argv?: string[]; script?: string }, file: string, summary: string, ok?: number[]): Promise<void> {
  const out = createWriteStream(file, { mode: 0o600 });
  try {
    await pull(target, cmd, (c) => out.write(c), summary, ok);
  } finally {
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

/**
 * Backs up one host into <outDir>/<host>/<app>-<host>-<time>.tar.gz: inspect (one round trip) → configs, alert
 * state and audit logs → secrets (env files, coturn's config, /etc/letsencrypt; encrypted here, in memory, before
 * anything is written) → the live and previous release as artifacts → pack with a manifest and a .sha256 →
 * verify (unpack and decrypt again) → retention.
 */
export async function backupHost(host: ResolvedHost, secrets: HostSecrets, opts: BackupOptions): Promise<BackupReport> {
  const t0 = Date.now();
  const now = opts.now ?? (() => new Date());
  const phases = new Phases(host.name, opts.onProgress);
  const report: BackupReport = { host: host.name, status: 'ok', verified: false, pruned: [], phases: phases.list, ms: 0 };
  const dir = join(opts.outDir, host.name);
  const startedAt = now();
  const file = join(dir, archiveName(host.app.name, host.name, startedAt));
  const staging = join(dir, `.partial-${archiveName(host.app.name, host.name, startedAt)}`);
  let target: Runner | undefined;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (existsSync(file)) throw new RemoteError(host.name, `${file} already exists`, 'wait a second and run again');
    mkdirSync(join(staging, 'files'), { recursive: true, mode: 0o700 });
    const paths = backupPaths(host, secrets);

    target = await phases.run('connect', async () => {
      const t = await (opts.connect ?? sshTo(host))();
      return { value: t, detail: `${host.ssh.user}@${host.ssh.address}` };
    });
    const conn = target;
    const facts = await phases.run('inspect', async () => {
      const r = await conn.script(inspectScript(host, [...paths.plain.map((p) => p.path), ...paths.secret]), { root: true, summary: 'inspect the host' });
      const i = JSON.parse(r.stdout) as HostInspection;
      if (i.releases.missing.length > 0 && i.releases.current === null && !i.letsencrypt) {
        throw new RemoteError(host.name, `${host.name} has nothing to back up yet: not provisioned (missing ${i.releases.missing.join(', ')})`, `provision it first: npx zx scripts/provision.mjs ${host.name}`);
      }
      return { value: i, detail: `${i.os}; current ${i.releases.current ?? '(none)'}, previous ${i.releases.previous ?? '(none)'}` };
    });
    const fact = (p: string) => facts.files.find((f) => f.path === p);

    const members: Omit<Member, 'sha256' | 'bytes'>[] = [];
    const links: { path: string; target: string }[] = [];
    await phases.run('configs', async () => {
      const regular = paths.plain.filter((p) => fact(p.path)?.exists === true && fact(p.path)?.link === undefined);
      for (const p of paths.plain) {
        const f = fact(p.path);
        if (f?.link !== undefined) links.push({ path: p.path, target: f.link });
      }
      const tgz = join(staging, 'files.tar.gz');
      // tar exits 1 when a file changed while it was read (a log being appended): still a consistent copy of it.
      await pullToFile(conn, { argv: tarArgv(regular.map((p) => p.path)) }, tgz, 'read the configs, alert state and audit logs', [0, 1]);
      await run('tar', ['-xzf', tgz, '-C', join(staging, 'files'), '--no-same-owner', '--no-same-permissions']);
      rmSync(tgz);
      for (const p of regular) {
        const f = fact(p.path);
        if (!existsSync(join(staging, 'files', p.path))) continue;
        members.push({ path: `files${p.path}`, kind: p.kind, hostPath: p.path, ...(f?.mode !== undefined ? { mode: f.mode } : {}), ...(f?.owner !== undefined ? { owner: f.owner } : {}), ...(f?.group !== undefined ? { group: f.group } : {}) });
      }
      const count = (k: string) => members.filter((m) => m.kind === k).length;
      return { value: undefined, detail: `${count('config')} config file(s), ${count('state')} state, ${count('log')} audit log(s)` };
    });

    const secretPaths = paths.secret.filter((p) => (p === '/etc/letsencrypt' ? facts.letsencrypt : fact(p)?.exists === true));
    await phases.run('secrets', async () => {
      const chunks: Buffer[] = [];
      await pull(conn, { argv: tarArgv(secretPaths) }, (c) => chunks.push(c), 'read the secret-bearing files');
      const plain = Buffer.concat(chunks);
      const sealed = await encryptTo(opts.key.recipient, plain);
      plain.fill(0);
      await new Promise<void>((resolve, reject) => {
        const out = createWriteStream(join(staging, SECRETS_MEMBER), { mode: 0o600 });
        out.on('error', reject);
        out.end(Buffer.from(sealed), resolve);
      });
      members.push({ path: SECRETS_MEMBER, kind: 'secrets' });
      return { value: undefined, detail: `${secretPaths.join(', ')} → ${SECRETS_MEMBER} (age, to ${opts.key.recipient.slice(0, 12)}…)` };
    });

    const releaseRef = async (id: string | null): Promise<ReleaseRef | null> => {
      if (id === null) return null;
      const info = facts.releases.releases.find((r) => r.id === id);
      const rel = `releases/${id}.tar.gz`;
      mkdirSync(join(staging, 'releases'), { recursive: true, mode: 0o700 });
      await pullToFile(conn, { script: releaseTarScript(host, id) }, join(staging, rel), `read release ${id}`);
      const artifact = await readArtifact(join(staging, rel));
      members.push({ path: rel, kind: 'release' });
      return { id, ...(info?.sha !== undefined ? { sha: info.sha } : { sha: artifact.sha }), ...(info?.ref !== undefined ? { ref: info.ref } : {}), ...(info?.builtAt !== undefined ? { builtAt: info.builtAt } : {}),
        ...(info?.uploadedAt !== undefined ? { uploadedAt: info.uploadedAt } : {}), ...(info?.uploadedBy !== undefined ? { uploadedBy: info.uploadedBy } : {}), ...(info?.failed !== undefined ? { failed: info.failed } : {}), artifact: rel };
    };
    const { current, previous } = facts.releases;
    const releases = await phases.run('releases', async () => {
      const cur = await releaseRef(current);
      const prev = previous !== current ? await releaseRef(previous) : null;
      const list = [cur, prev].filter((r): r is ReleaseRef => r !== null).map((r) => r.id);
      return { value: { current: cur, previous: prev }, detail: list.length === 0 ? 'no release on the host' : `artifacts of ${list.join(', ')}` };
    });
    report.release = releases.current?.id ?? null;
    report.previous = releases.previous?.id ?? null;

    const manifest: Omit<Manifest, 'members'> & { members: typeof members } = {
      format: FORMAT, app: host.app.name, host: host.name, inventory: opts.inventoryName, rtcops: rtcopsVersion(),
      startedAt: startedAt.toISOString(), finishedAt: now().toISOString(), by: by(),
      hostInfo: { os: facts.os, hostname: facts.hostname },
      releases: { ...releases, all: facts.releases.releases.map((r) => r.id) },
      tls: { certName: host.tls.certName, names: host.tls.names, fingerprint: facts.tls.fingerprint || null, notAfter: facts.tls.notAfter || null },
      encryption: { scheme: 'age', recipient: opts.key.recipient },
      secretPaths,
      links,
      members,
    };
    const packed = await phases.run('pack', async () => {
      const p = await packArchive(staging, manifest, file);
      chmodSync(file, 0o600);
      return { value: p, detail: `${file} (${(p.bytes / 1048576).toFixed(1)} MB, sha256 ${p.sha256.slice(0, 12)}…)` };
    });
    report.file = file;
    report.sha256 = packed.sha256;
    report.bytes = packed.bytes;

    if (opts.key.identity !== undefined) {
      await phases.run('verify', async () => {
        let opened: Awaited<ReturnType<typeof openArchive>>;
        try {
          opened = await openArchive(file, opts.key, { app: host.app.name, certName: host.tls.certName });
        } catch (err) {
          // An archive that does not verify must never count as "the last good backup" (retention, the backup check).
          rmSync(file, { force: true });
          rmSync(`${file}.sha256`, { force: true });
          delete report.file;
          throw err;
        }
        opened.close();
        return { value: undefined, detail: `${packed.manifest.members.length} member(s) match their SHA-256, the secrets decrypt with ${opts.key.source}` };
      });
      report.verified = true;
    } else {
      phases.skip('verify', `${opts.key.source} holds only the public key: the archive was not decrypted again`);
    }

    const remote = opts.remote;
    if (remote !== undefined) {
      await phases.run('upload', async () => {
        const t = Date.now();
        const up = await remote.upload(file, host.name);
        report.uploaded = `s3://${remote.location.bucket}/${up.key}`;
        return { value: undefined, detail: `${report.uploaded} (${(up.bytes / 1048576).toFixed(1)} MB at ${((up.bytes / 1048576) / Math.max(0.001, (Date.now() - t) / 1000)).toFixed(1)} MB/s, size checked) and its .sha256` };
      });
    }

    await phases.run('retention', async () => {
      const policy = opts.retention ?? DEFAULT_RETENTION;
      const { drop, keep } = retain(listArchives(dir, host.app.name, host.name), policy);
      for (const d of drop) {
        rmSync(d.file, { force: true });
        rmSync(`${d.file}.sha256`, { force: true });
      }
      report.pruned = drop.map((d) => d.file);
      const policyText = `${policy.daily} daily, ${policy.weekly} weekly, ${policy.monthly} monthly`;
      if (remote === undefined) return { value: undefined, detail: `${keep.length} kept (${policyText}), ${drop.length} deleted` };
      const r = await remote.prune(host.app.name, host.name, policy);
      report.remotePruned = r.deleted;
      return { value: undefined, detail: `${keep.length} kept here, ${r.kept} in the bucket (${policyText}); ${drop.length} deleted here, ${r.deleted.length} in the bucket` };
    });
  } catch (err) {
    report.status = 'failed';
    recordError(report, err);
  } finally {
    target?.close();
    rmSync(staging, { recursive: true, force: true });
    report.ms = Date.now() - t0;
  }
  return report;
}
