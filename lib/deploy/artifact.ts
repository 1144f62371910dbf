import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WORKER_PATH, workerEnvFor } from './commands.js';

const run = promisify(execFile);

/** What the artifact says about itself (.rtcops-artifact.json at its top level). */
export interface ArtifactManifest {
  sha: string;
  ref: string;
  builtAt: string;
  /** Bytes once unpacked, for the free-disk check. */
  unpackedBytes: number;
}

export interface Artifact extends ArtifactManifest {
  /** The .tar.gz on the operator's machine. */
  file: string;
  bytes: number;
  /** Taken from the cache instead of built. */
  cached: boolean;
}

export const MANIFEST = '.rtcops-artifact.json';

export class ArtifactError extends Error {
  override name = 'ArtifactError';
}

export function defaultCacheDir(): string {
  return join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'rtcops', 'artifacts');
}

/**
 * The mediasoup worker put into a release for hosts of `os`: the explicit one, else MEDIASOUP_WORKER_BIN_<OS>, else
 * MEDIASOUP_WORKER_BIN, else the one mediasoup's install left in node_modules (its prebuilt worker runs on any release).
 */
export function findWorkerBin(repo: string, explicit?: string, os?: string, env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [explicit, os === undefined ? undefined : env[workerEnvFor(os)], env['MEDIASOUP_WORKER_BIN'], join(repo, WORKER_PATH)]
    .filter((c): c is string => c !== undefined && c !== '');
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) {
    throw new ArtifactError(`no mediasoup worker binary to put in the release: set MEDIASOUP_WORKER_BIN (or ${workerEnvFor(os ?? 'debian-13')} for the hosts of one release) to a mediasoup-worker built for the hosts (x86_64), or run npm ci where mediasoup can download it`);
  }
  return found;
}

async function git(repo: string, args: string[]): Promise<string> {
  try {
    return (await run('git', args, { cwd: repo, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    throw new ArtifactError(`git ${args.join(' ')} failed: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`);
  }
}

async function sh(cwd: string, cmd: string, args: string[], what: string): Promise<void> {
  try {
    await run(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new ArtifactError(`${what} failed: ${`${e.stderr ?? ''}\n${e.stdout ?? ''}`.trim().split('\n').slice(-8).join('\n') || e.message}`);
  }
}

async function duBytes(paths: string[]): Promise<number> {
  const out = (await run('du', ['-sb', '-L', ...paths])).stdout;
  return out.split('\n').filter(Boolean).reduce((n, line) => n + Number(line.split('\t')[0]), 0);
}

export interface BuildOptions {
  /** The git work tree to build from. */
  repo: string;
  ref: string;
  cacheDir?: string;
  workerBin?: string;
  /** The hosts' release, which picks MEDIASOUP_WORKER_BIN_<OS> when it is set. */
  os?: string;
  onProgress?: (detail: string) => void;
}

/**
 * The release tarball of a git ref: dist/ compiled from that commit, package.json, and the production dependency
 * tree (`npm ci --omit=dev`, the mediasoup worker binary in place, since hosts download nothing). Cached by git
 * sha; the production tree is cached by the lock file's hash, so a new commit only recompiles.
 */
export async function buildArtifact(o: BuildOptions): Promise<Artifact> {
  const cacheDir = o.cacheDir ?? defaultCacheDir();
  const progress = o.onProgress ?? (() => undefined);
  const sha = (await git(o.repo, ['rev-parse', '--verify', `${o.ref}^{commit}`])).trim();
  const workerBin = findWorkerBin(o.repo, o.workerBin, o.os);
  // One commit with another worker (another release's) is another artifact.
  const worker = createHash('sha256').update(readFileSync(workerBin)).digest('hex').slice(0, 12);
  const file = join(cacheDir, `${sha}-${worker}.tar.gz`);
  if (existsSync(file) && existsSync(`${file}.json`)) {
    const manifest = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as ArtifactManifest;
    return { ...manifest, ref: o.ref, file, bytes: statSync(file).size, cached: true };
  }
  mkdirSync(cacheDir, { recursive: true });
  const stage = mkdtempSync(join(tmpdir(), 'rtcops-build-'));
  try {
    progress(`git archive ${sha.slice(0, 12)}`);
    await sh(o.repo, 'sh', ['-c', `git archive --format=tar "$1" | tar -x -C "$2"`, 'archive', sha, stage], 'git archive');
    const lock = readFileSync(join(stage, 'package-lock.json'));
    const modules = await productionModules(cacheDir, stage, lock, workerBin, progress);

    // Compiling needs the dev tree; the operator's own is used when its lock file is the same.
    progress('compile (tsc)');
    const localLock = join(o.repo, 'package-lock.json');
    const sameTree = existsSync(join(o.repo, 'node_modules', '.bin', 'tsc')) && existsSync(localLock) && readFileSync(localLock).equals(lock);
    if (sameTree) symlinkSync(join(o.repo, 'node_modules'), join(stage, 'node_modules'));
    else await sh(stage, 'npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], 'npm ci (build tree)');
    await sh(stage, join(stage, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], 'tsc');
    // The connection test page (dist/connection-test/), in commits that have it.
    if (existsSync(join(stage, 'client', 'build.mjs'))) await sh(stage, process.execPath, [join(stage, 'client', 'build.mjs')], 'esbuild (connection test page)');
    rmSync(join(stage, 'node_modules'), { recursive: true, force: true });

    const manifest: ArtifactManifest = { sha, ref: o.ref, builtAt: new Date().toISOString(), unpackedBytes: await duBytes([join(stage, 'dist'), join(stage, 'package.json'), modules]) };
    writeFileSync(join(stage, MANIFEST), `${JSON.stringify(manifest)}\n`);
    progress('pack');
    const tmp = `${file}.${process.pid}.tmp`;
    await sh(stage, 'tar', ['-czf', tmp, '-C', stage, MANIFEST, 'dist', 'package.json', 'package-lock.json', '-C', join(modules, '..'), 'node_modules'], 'tar');
    writeFileSync(`${file}.json`, JSON.stringify(manifest));
    renameSync(tmp, file);
    return { ...manifest, file, bytes: statSync(file).size, cached: false };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** node_modules for production, cached by the lock file, the Node.js major and the worker binary. */
async function productionModules(cacheDir: string, stage: string, lock: Buffer, workerBin: string, progress: (d: string) => void): Promise<string> {
  const key = createHash('sha256').update(lock).update(process.versions.node.split('.')[0] ?? '').update(readFileSync(workerBin)).digest('hex').slice(0, 16);
  const dir = join(cacheDir, `modules-${key}`);
  if (existsSync(join(dir, 'node_modules', WORKER_PATH.replace(/^node_modules\//, '')))) return join(dir, 'node_modules');
  progress('npm ci --omit=dev');
  const work = mkdtempSync(join(cacheDir, '.modules-'));
  try {
    copyFileSync(join(stage, 'package.json'), join(work, 'package.json'));
    copyFileSync(join(stage, 'package-lock.json'), join(work, 'package-lock.json'));
    // Install scripts are skipped: the only one that matters (mediasoup's worker download) is replaced by the binary.
    await sh(work, 'npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], 'npm ci --omit=dev');
    const dest = join(work, WORKER_PATH);
    mkdirSync(join(dest, '..'), { recursive: true });
    cpSync(workerBin, dest);
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  return join(dir, 'node_modules');
}

/** The manifest of a tarball given with --artifact; refuses files that are not a release. */
export async function readArtifact(file: string): Promise<Artifact> {
  if (!existsSync(file)) throw new ArtifactError(`artifact ${file} does not exist`);
  let text: string;
  try {
    text = (await run('tar', ['-xzOf', file, MANIFEST], { maxBuffer: 1024 * 1024 })).stdout;
  } catch {
    throw new ArtifactError(`${file} is not a release artifact (no ${MANIFEST} in it; build one with scripts/deploy.mjs --ref, or buildArtifact)`);
  }
  const m = JSON.parse(text) as Partial<ArtifactManifest>;
  if (typeof m.sha !== 'string' || !/^[0-9a-f]{7,40}$/.test(m.sha)) throw new ArtifactError(`${file}: ${MANIFEST} has no git sha`);
  return { sha: m.sha, ref: m.ref ?? 'artifact', builtAt: m.builtAt ?? '', unpackedBytes: m.unpackedBytes ?? statSync(file).size * 4, file, bytes: statSync(file).size, cached: true };
}
