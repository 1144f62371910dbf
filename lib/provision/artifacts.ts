import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { execa } from 'execa';

/**
 * Files provisioning uploads to hosts that cannot (or should not) fetch them: the official Node.js binaries
 * (npm registry package node-linux-<arch>), PM2, and the pm2-logrotate module. Built once on the operator's
 * machine, kept in a local cache with their SHA-256, and verified again on the host after upload.
 */
export interface Artifact {
  /** Local file to upload. */
  file: string;
  sha256: string;
  /** Short name for progress lines and the remote temp file. */
  name: string;
}

export class ArtifactError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

export function artifactCacheDir(): string {
  return process.env.RTCOPS_ARTIFACT_CACHE ?? join(homedir(), '.cache', 'rtcops', 'artifacts');
}

async function sha(file: string, algorithm: 'sha256' | 'sha512', encoding: 'hex' | 'base64'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest(encoding);
}

async function npm(args: string[], cwd: string): Promise<string> {
  const r = await execa('npm', args, { cwd, reject: false, env: { npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
  if (r.exitCode !== 0) {
    throw new ArtifactError(`npm ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-4).join(' ')}`,
      'the operator machine needs npm and access to the npm registry (or a warm cache in ~/.cache/rtcops/artifacts)');
  }
  return r.stdout;
}

/**
 * A cached artifact: `<name>` plus `<name>.sha256`. A cached file whose checksum no longer matches its
 * record is rebuilt, never uploaded.
 */
async function cached(name: string, build: (dir: string) => Promise<string>): Promise<Artifact> {
  const dir = artifactCacheDir();
  const file = join(dir, name);
  const record = `${file}.sha256`;
  if (existsSync(file) && existsSync(record)) {
    const sha256 = await sha(file, 'sha256', 'hex');
    if (sha256 === readFileSync(record, 'utf8').trim()) return { file, sha256, name };
  }
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(dir, `.build-${name}-`));
  try {
    const built = await build(work);
    const sha256 = await sha(built, 'sha256', 'hex');
    renameSync(built, file);
    writeFileSync(record, `${sha256}\n`);
    return { file, sha256, name };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function nodeArch(unameM: string): 'x64' | 'arm64' {
  if (unameM === 'x86_64') return 'x64';
  if (unameM === 'aarch64' || unameM === 'arm64') return 'arm64';
  throw new ArtifactError(`no official Node.js build for the host's architecture "${unameM}"`, 'set node.source: nodesource in the inventory');
}

/** The official Node.js binaries, as published on the npm registry, checked against the registry's SHA-512. */
export function nodeArtifact(version: string, arch: 'x64' | 'arm64'): Promise<Artifact> {
  const pkg = `node-linux-${arch}@${version}`;
  return cached(`node-linux-${arch}-${version}.tgz`, async (work) => {
    const expected = (await npm(['view', pkg, 'dist.integrity'], work)).trim();
    if (!expected.startsWith('sha512-')) throw new ArtifactError(`the npm registry has no ${pkg}`, 'check node.version in the inventory');
    const [packed] = JSON.parse(await npm(['pack', pkg, '--json', '--pack-destination', work], work)) as { filename: string }[];
    const file = join(work, packed?.filename ?? '');
    const actual = `sha512-${await sha(file, 'sha512', 'base64')}`;
    if (actual !== expected) throw new ArtifactError(`${pkg}: checksum mismatch (registry ${expected}, downloaded ${actual})`);
    return file;
  });
}

/** PM2 with its production dependencies (pure JavaScript), as one tarball with node_modules/pm2 inside. */
export function pm2Artifact(version: string): Promise<Artifact> {
  return cached(`pm2-${version}.tgz`, async (work) => {
    const stage = join(work, 'stage');
    mkdirSync(stage);
    writeFileSync(join(stage, 'package.json'), JSON.stringify({ name: 'rtcops-pm2-bundle', private: true }));
    await npm(['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', `pm2@${version}`], stage);
    const out = join(work, 'pm2.tgz');
    await execa('tar', ['czf', out, '-C', stage, 'node_modules', 'package.json', 'package-lock.json']);
    return out;
  });
}

/**
 * pm2-logrotate packed the way `pm2 install <file.tgz>` expects a module: one top folder named `module`
 * with package.json (its `apps`) and its dependencies installed, so the host never calls the registry.
 */
export function pm2LogrotateArtifact(version: string): Promise<Artifact> {
  return cached(`pm2-logrotate-${version}.tgz`, async (work) => {
    const [packed] = JSON.parse(await npm(['pack', `pm2-logrotate@${version}`, '--json', '--pack-destination', work], work)) as { filename: string }[];
    await execa('tar', ['xzf', join(work, packed?.filename ?? ''), '-C', work]);
    renameSync(join(work, 'package'), join(work, 'module'));
    await npm(['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], join(work, 'module'));
    const out = join(work, 'module.tgz');
    await execa('tar', ['czf', out, '-C', work, 'module']);
    return out;
  });
}

/**
 * The health daemon as one ES module (esbuild bundles daemon/main.ts with its dependencies), so a host needs
 * only Node.js to run it: no npm, no node_modules. Content-addressed in the cache.
 */
export async function daemonBundle(): Promise<Artifact> {
  const { build } = await import('esbuild');
  const entry = fileURLToPath(new URL('../../daemon/main.ts', import.meta.url));
  const entryJs = entry.replace(/\.ts$/, '.js');
  const result = await build({
    entryPoints: [existsSync(entry) ? entry : entryJs], bundle: true, platform: 'node', target: 'node22', format: 'esm', write: false, logLevel: 'silent',
    // Bundled CommonJS dependencies still call require().
    banner: { js: "import { createRequire as __rtcopsCreateRequire } from 'node:module'; const require = __rtcopsCreateRequire(import.meta.url);" },
  }).catch((err: Error) => { throw new ArtifactError(`bundling the health daemon failed: ${err.message}`, 'run npm ci in the rtcops checkout (esbuild is a dev dependency)'); });
  const code = result.outputFiles[0]?.contents;
  if (code === undefined) throw new ArtifactError('bundling the health daemon produced no output');
  const sha256 = createHash('sha256').update(code).digest('hex');
  const name = `rtcops-daemon-${sha256.slice(0, 16)}.mjs`;
  const file = join(artifactCacheDir(), name);
  if (!existsSync(file)) {
    mkdirSync(artifactCacheDir(), { recursive: true });
    writeFileSync(`${file}.tmp`, code);
    renameSync(`${file}.tmp`, file);
  }
  return { file, sha256, name };
}
