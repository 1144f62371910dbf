import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MANIFEST, type ArtifactManifest } from '../../lib/deploy/artifact.js';

/** Ways a release can be bad, each one line patched into the compiled server, with the sha prefix that names it. */
export const BREAKAGES = {
  /** Exits 1 at startup, after the config check (which it passes). */
  crash: { prefix: 'c0c0', file: 'dist/server/main.js', find: 'const server = await startServer(', replace: "throw new Error('crash on start (test release)');\n    const server = await startServer(" },
  /** Listens, /healthz 200, /readyz 503. */
  readyz: { prefix: 'eeee', file: 'dist/server/http-routes.js', find: "json(res, 200, { status: 'ready' });", replace: "json(res, 503, { status: 'not_ready', reason: 'broken on purpose (test release)' });" },
  /** /healthz and /readyz 200, but signaling answers errors. */
  signaling: { prefix: 'dddd', file: 'dist/server/signaling.js', find: 'getRouterRtpCapabilities: ({ room }) => room.rtpCapabilities,', replace: "getRouterRtpCapabilities: () => { throw new Error('broken on purpose (test release)'); }," },
  /** Every answer right, ICE and DTLS connect, but consumers are never resumed: no RTP reaches a receiver. */
  media: { prefix: 'a0a0', file: 'dist/server/signaling.js', find: 'await ownConsumer(peer, data.consumerId).resume();', replace: 'ownConsumer(peer, data.consumerId);' },
} as const;

/** A copy of a good release tarball with one breakage; its manifest sha starts with the breakage's prefix. */
export function brokenArtifact(good: string, kind: keyof typeof BREAKAGES, outDir: string): string {
  const b = BREAKAGES[kind];
  const dir = mkdtempSync(join(tmpdir(), `rtcops-broken-${kind}-`));
  try {
    execFileSync('tar', ['-xzf', good, '-C', dir]);
    const path = join(dir, b.file);
    const text = readFileSync(path, 'utf8');
    if (!text.includes(b.find)) throw new Error(`${b.file} no longer contains "${b.find}": update test/helpers/broken-release.ts`);
    writeFileSync(path, text.replace(b.find, b.replace));
    const manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as ArtifactManifest;
    writeFileSync(join(dir, MANIFEST), JSON.stringify({ ...manifest, sha: `${b.prefix}${manifest.sha.slice(b.prefix.length)}`, ref: `broken-${kind}` }));
    const out = join(outDir, `broken-${kind}.tar.gz`);
    execFileSync('tar', ['-czf', out, '-C', dir, ...readdirSync(dir)]);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
