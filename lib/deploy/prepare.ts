import { readFileSync } from 'node:fs';
import type { DeploySlot } from '../inventory/resolve.js';
import { operator as by } from '../host/index.js';
import { Stop } from '../report/phases.js';
import type { Artifact } from './artifact.js';
import { checkConfigScript, linkSharedScript, markFailedScript, receiveArgv } from './commands.js';
import type { HostState } from './host-state.js';
import { releaseId, rollbackTarget } from './release.js';
import type { Run } from './run.js';
import { linkSlotScript, startSlotScript } from './slots.js';

/** A PM2 size (1G, 512M, 300K) in bytes. */
function parseSize(size: string): number | undefined {
  const m = /^(\d+)([KMG]?)$/i.exec(size.trim());
  return m === null ? undefined : Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] ?? '').toUpperCase() || ' ');
}

/** deploy: the artifact beside the releases already there (disk → upload → link); its id. */
export async function newRelease(run: Run, state: HostState): Promise<string> {
  const { opts, report } = run;
  if (opts.artifact === undefined) throw new Error('deploy needs an artifact');
  const id = opts.releaseId ?? releaseId(new Date(), opts.artifact.sha);
  report.release = id;
  await upload(run, opts.artifact, id, state.freeKb);
  return id;
}

/** rollback: the release to return to (--to, or the one before), already on the host, linked again; its id. */
export async function oldRelease(run: Run, state: HostState): Promise<string> {
  const { host, opts, report } = run;
  const target = opts.to ?? rollbackTarget(state);
  if (target === undefined) {
    const deploy = `npx zx scripts/deploy.mjs ${host.name}`;
    throw state.releases.length === 0
      ? new Stop('refused', `no release to roll back to on ${host.name}: nothing is deployed yet`, `deploy one first: ${deploy}`)
      : new Stop('refused', `no release to roll back to on ${host.name}: none older than the current one that did not fail (releases: ${state.releases.map((r) => r.id).join(', ')})`,
        `rollback returns to an earlier release, and after a first deploy there is none: deploy the next release with ${deploy} (rollback then returns to this one), or name one with --to <id> (scripts/releases.mjs lists them)`);
  }
  if (!state.releases.some((r) => r.id === target)) throw new Stop('refused', `no release ${target} on ${host.name}; releases: ${state.releases.map((r) => r.id).join(', ')}`, 'list them with scripts/releases.mjs');
  if (target === state.current) throw new Stop('refused', `${target} is already the current release on ${host.name}`);
  const id = target;
  report.release = id;
  await run.phase('link', async () => {
    await run.main.script(linkSharedScript(host, id), { root: true, summary: 'link shared files' });
    return { value: undefined, detail: `back to ${id}` };
  });
  return id;
}

async function upload(run: Run, artifact: Artifact, id: string, freeKb: number): Promise<void> {
  const { host, main } = run;
  const needKb = Math.ceil((artifact.unpackedBytes + artifact.bytes) / 1024) + 64 * 1024;
  await run.phase('disk', async () => {
    if (freeKb < needKb) {
      throw new Stop('refused', `not enough free disk on ${host.name} for the release: it needs ${Math.ceil(needKb / 1024)} MB in ${host.app.releasesDir}, ${Math.floor(freeKb / 1024)} MB are free`,
        `free space on the host, or keep fewer releases (deploy.keepReleases, now ${host.deploy.keepReleases})`);
    }
    return { value: undefined, detail: `${Math.floor(freeKb / 1024)} MB free, ${Math.ceil(needKb / 1024)} MB needed` };
  });
  await run.phase('upload', async () => {
    const meta = { id, sha: artifact.sha, ref: artifact.ref, builtAt: artifact.builtAt, uploadedAt: new Date().toISOString(), uploadedBy: by() };
    await main.exec(receiveArgv(host, id, meta), { root: true, stdin: readFileSync(artifact.file), summary: `unpack release ${id}` });
    return { value: undefined, detail: `${id} (${(artifact.bytes / 1048576).toFixed(1)} MB${artifact.cached ? ', cached build' : ''})` };
  });
  await run.phase('link', async () => {
    await main.script(linkSharedScript(host, id), { root: true, summary: 'link shared files' });
    return { value: undefined, detail: 'env file, logs' };
  });
}

export async function checkConfig(run: Run, id: string, slot: DeploySlot): Promise<void> {
  const { host, main } = run;
  await run.phase('check-config', async () => {
    const r = await main.script(checkConfigScript(host, id, slot), { root: true, allowFailure: true, summary: 'check the config' });
    if (r.code !== 0) {
      const out = `${r.stderr}\n${r.stdout}`.trim();
      await main.script(markFailedScript(host, id, `config check: ${out}`), { root: true, allowFailure: true, summary: 'mark the release failed' });
      throw new Stop('refused', `release ${id} refused its configuration (nothing was switched): ${out.split('\n').slice(-3).join(' ')}`,
        'fix the inventory (then provision) or the release, and deploy again', { check: 'config', exit: r.code, output: out.slice(-500) });
    }
    return { value: undefined, detail: r.stdout.trim().split('\n').at(-1) ?? 'ok' };
  });
}

/** The new release in the idle slot, beside the one that serves: its link, then its own PM2 process. */
export async function startRelease(run: Run, id: string, slot: DeploySlot, memAvailableKb: number | undefined): Promise<void> {
  const { host, main } = run;
  await run.phase('start', async () => {
    const limit = parseSize(host.pm2.maxMemoryRestart);
    const mem = memAvailableKb === undefined ? '' : `; ${Math.floor(memAvailableKb / 1024)} MB memory available${limit !== undefined && memAvailableKb * 1024 < limit ? ` (less than pm2.maxMemoryRestart ${host.pm2.maxMemoryRestart}: two releases run at once until the old one stops)` : ''}`;
    await main.script(linkSlotScript(host, slot, id), { root: true, summary: `link slot ${slot.name} to ${id}` });
    const r = await main.script(startSlotScript(host, slot), { root: true, allowFailure: true, summary: `pm2 start ${slot.pm2Name}` });
    // A release that never signals ready still gets here; the gate decides.
    const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').filter((l) => l.trim() !== '').slice(-1)[0] ?? '';
    return { value: undefined, detail: `slot ${slot.name} (port ${slot.port}): ${r.code === 0 ? `${slot.pm2Name} started` : `pm2 exited ${r.code}: ${tail.slice(0, 200)}`}${mem}` };
  });
}
