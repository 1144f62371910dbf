import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { decryptWith, type BackupKey } from './key.js';

const run = promisify(execFile);

/**
 * A backup archive: `<app>-<host>-<UTC time>.tar.gz` with `<same>.sha256` beside it (sha256sum format). Inside:
 * manifest.json (what, from where, when, and the SHA-256 of every other member), files/<host path> (the configs as
 * they were on the host, the alert state, the audit logs), secrets.tar.gz.age (the secret-bearing files and
 * /etc/letsencrypt, encrypted with age to the operator's key) and releases/<id>.tar.gz (the live and previous
 * release, as deploy artifacts).
 */
export const FORMAT = 'rtcops-backup/1';
export const MANIFEST_FILE = 'manifest.json';
export const SECRETS_MEMBER = 'secrets.tar.gz.age';
const STAMP = /^(.+)-(\d{8}T\d{6}Z)\.tar\.gz$/;

/** Something wrong with an archive (damaged, truncated, altered, not ours, another app's); `hint` says what to do. */
export class ArchiveError extends Error {
  override name = 'ArchiveError';
  constructor(message: string, readonly hint: string) {
    super(message);
  }
}

const member = z.object({
  path: z.string(),
  kind: z.enum(['config', 'state', 'log', 'secrets', 'release']),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  /** Where it was on the host (config, state, log); a symlink keeps its target. */
  hostPath: z.string().optional(),
  mode: z.string().optional(),
  owner: z.string().optional(),
  group: z.string().optional(),
  link: z.string().optional(),
}).strict();

const release = z.object({
  id: z.string(),
  sha: z.string().optional(),
  ref: z.string().optional(),
  builtAt: z.string().optional(),
  uploadedAt: z.string().optional(),
  uploadedBy: z.string().optional(),
  failed: z.string().optional(),
  /** The member holding its artifact; absent when only referenced. */
  artifact: z.string().optional(),
}).strict();

export const manifestSchema = z.object({
  format: z.literal(FORMAT),
  app: z.string(),
  host: z.string(),
  inventory: z.string(),
  rtcops: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  by: z.string(),
  hostInfo: z.object({ os: z.string(), hostname: z.string() }).strict(),
  releases: z.object({ current: release.nullable(), previous: release.nullable(), all: z.array(z.string()) }).strict(),
  tls: z.object({ certName: z.string(), names: z.array(z.string()), fingerprint: z.string().nullable(), notAfter: z.string().nullable() }).strict(),
  encryption: z.object({ scheme: z.literal('age'), recipient: z.string() }).strict(),
  /** What the encrypted member holds (paths only: never a hash of a secret). */
  secretPaths: z.array(z.string()),
  /** Symlinks among the configs (the enabled nginx site). */
  links: z.array(z.object({ path: z.string(), target: z.string() }).strict()),
  members: z.array(member),
}).strict();

export type Manifest = z.infer<typeof manifestSchema>;
export type Member = z.infer<typeof member>;
export type ReleaseRef = z.infer<typeof release>;

export function stampOf(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export function archiveName(app: string, host: string, at: Date): string {
  return `${app}-${host}-${stampOf(at)}.tar.gz`;
}

/** The time in an archive's name, or undefined for a file that is not a backup archive. */
export function archiveTime(name: string): Date | undefined {
  const m = STAMP.exec(basename(name));
  const s = m?.[2];
  if (s === undefined) return undefined;
  const at = new Date(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/** The archives of one app and host in a directory, newest first. */
export function listArchives(dir: string, app: string, host: string): { file: string; at: Date }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.startsWith(`${app}-${host}-`))
    .flatMap((n) => {
      const at = archiveTime(n);
      return at !== undefined && n === archiveName(app, host, at) ? [{ file: join(dir, n), at }] : [];
    })
    .sort((a, b) => b.at.getTime() - a.at.getTime());
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

/** Every regular file under `dir`, as paths relative to it. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return walk(p, base);
    return e.isFile() ? [relative(base, p)] : [];
  });
}

/**
 * Packs a staging directory (the manifest is written last, with the hash of every other member) into
 * `<dir>/<name>` atomically, and writes `<name>.sha256` beside it. Returns the archive's SHA-256.
 */
export async function packArchive(staging: string, manifest: Omit<Manifest, 'members'> & { members: Omit<Member, 'sha256' | 'bytes'>[] }, file: string): Promise<{ sha256: string; bytes: number; manifest: Manifest }> {
  const members: Member[] = [];
  for (const m of manifest.members) {
    const p = join(staging, m.path);
    members.push({ ...m, sha256: await sha256File(p), bytes: statSync(p).size });
  }
  const listed = new Set(members.map((m) => m.path));
  const stray = walk(staging).filter((p) => !listed.has(p));
  if (stray.length > 0) throw new Error(`internal: files staged but not in the manifest: ${stray.join(', ')}`);
  const full: Manifest = manifestSchema.parse({ ...manifest, members });
  writeFileSync(join(staging, MANIFEST_FILE), `${JSON.stringify(full, null, 2)}\n`, { mode: 0o600 });
  const tmp = `${file}.partial`;
  const tops = [...new Set([MANIFEST_FILE, ...members.map((m) => m.path.split('/')[0] ?? m.path)])];
  try {
    await run('tar', ['-czf', tmp, '--owner=0', '--group=0', '--numeric-owner', '-C', staging, ...tops]);
    const digest = await sha256File(tmp);
    writeFileSync(`${file}.sha256`, `${digest}  ${basename(file)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
    return { sha256: digest, bytes: statSync(file).size, manifest: full };
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export interface OpenedArchive {
  file: string;
  /** Unpacked here (mode 0700; the secrets member stays encrypted on disk). */
  dir: string;
  manifest: Manifest;
  /** The decrypted secrets tarball (.tar.gz), in memory only. */
  secrets: Uint8Array;
  /** The archive's own SHA-256. */
  sha256: string;
  close(): void;
}

export interface Expect {
  /** The inventory's app name for the target host. */
  app: string;
  /** The inventory's certificate name (the secrets must hold its live certificate). */
  certName?: string;
}

/**
 * Checks an archive completely before anything uses it: its checksum file, that it unpacks, its manifest, the
 * SHA-256 of every member (and that nothing else is in it), the app it belongs to, and that the key decrypts the
 * secrets (age authenticates them). Throws ArchiveError or BackupKeyError; nothing outside a temp dir is touched.
 */
export async function openArchive(file: string, key: BackupKey, expect: Expect): Promise<OpenedArchive> {
  const name = basename(file);
  if (!existsSync(file)) throw new ArchiveError(`no archive at ${file}`, 'give the path of a .tar.gz made by scripts/backup.mjs');
  const sumFile = `${file}.sha256`;
  if (!existsSync(sumFile)) throw new ArchiveError(`${name} has no checksum file beside it (${basename(sumFile)})`, 'copy the archive together with its .sha256 file (backup.mjs always writes both)');
  const want = readFileSync(sumFile, 'utf8').trim().split(/\s+/)[0] ?? '';
  const digest = await sha256File(file);
  if (digest !== want) {
    throw new ArchiveError(`${name} does not match its checksum file: it was damaged or truncated in storage or transfer (SHA-256 ${digest.slice(0, 16)}…, expected ${want.slice(0, 16)}…)`, 'use another copy of this backup, or an older backup');
  }
  const dir = mkdtempSync(join(tmpdir(), 'rtcops-restore-'));
  const close = () => rmSync(dir, { recursive: true, force: true });
  try {
    try {
      await run('tar', ['-xzf', file, '-C', dir, '--no-same-owner', '--no-same-permissions'], { maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      const why = ((err as { stderr?: string }).stderr ?? '').trim().split('\n').slice(-2).join(' ');
      throw new ArchiveError(`${name} does not unpack: it is not a complete tar.gz (${why || 'tar failed'})`, 'use another copy of this backup, or an older backup');
    }
    let manifest: Manifest;
    try {
      manifest = manifestSchema.parse(JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')));
    } catch (err) {
      throw new ArchiveError(`${name} is not an rtcops backup (${MANIFEST_FILE} ${existsSync(join(dir, MANIFEST_FILE)) ? `is not a ${FORMAT} manifest: ${(err as Error).message.split('\n')[0]}` : 'is missing'})`, 'give an archive made by scripts/backup.mjs');
    }
    if (manifest.app !== expect.app) {
      throw new ArchiveError(`${name} is a backup of app "${manifest.app}" (host ${manifest.host}); the inventory's host runs app "${expect.app}"`, 'restore a backup of this app, or name the host it belongs to');
    }
    const listed = new Set([MANIFEST_FILE, ...manifest.members.map((m) => m.path)]);
    const extra = walk(dir).filter((p) => !listed.has(p));
    if (extra.length > 0) throw new ArchiveError(`${name} holds files its manifest does not list: ${extra.slice(0, 5).join(', ')}`, 'use an unaltered copy of this backup');
    for (const m of manifest.members) {
      const p = join(dir, m.path);
      if (!existsSync(p)) throw new ArchiveError(`${name} misses ${m.path}, which its manifest lists`, 'use an unaltered copy of this backup');
      const got = await sha256File(p);
      if (got !== m.sha256) throw new ArchiveError(`${name}: ${m.path} does not match the SHA-256 in its manifest: the archive was altered`, 'use an unaltered copy of this backup');
    }
    const secretsMember = manifest.members.find((m) => m.kind === 'secrets');
    if (secretsMember === undefined) throw new ArchiveError(`${name} has no encrypted secrets member`, 'use an archive made by scripts/backup.mjs');
    const secrets = await decryptWith(key, readFileSync(join(dir, secretsMember.path)), manifest.encryption.recipient);
    const listing = await tarList(secrets);
    if (expect.certName !== undefined && manifest.tls.fingerprint !== null && !listing.includes(`etc/letsencrypt/live/${expect.certName}/fullchain.pem`)) {
      throw new ArchiveError(`${name}'s secrets hold no certificate for ${expect.certName}`, 'the inventory names other domains than the backed-up host had: restore with the inventory of that host');
    }
    return { file, dir, manifest, secrets, sha256: digest, close };
  } catch (err) {
    close();
    throw err;
  }
}

/** Member names of a .tar.gz held in memory. */
export async function tarList(tgz: Uint8Array): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('tar', ['-tzf', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out.split('\n').filter(Boolean).map((l) => l.replace(/^\.\//, ''))) : reject(new ArchiveError(`the decrypted secrets are not a tar.gz (${err.trim()})`, 'use an unaltered copy of this backup'))));
    p.stdin.end(Buffer.from(tgz));
  });
}
