import type { DeploySlot } from '../inventory/resolve.js';
import { Stop } from '../report/phases.js';
import { stateScript } from './commands.js';
import type { HostReleases } from './release.js';
import type { Run } from './run.js';
import { otherSlot, slotOfPort, slotStateScript } from './slots.js';

export interface SlotProc { name: string; pid?: number; status?: string; restarts?: number; cwd: string }

export interface HostState extends HostReleases {
  freeKb: number;
  /** MemAvailable: two releases run at once until the old one stops. */
  memAvailableKb: number | undefined;
  /** The slot nginx sends callers to, and the one the new release starts in. */
  live: DeploySlot;
  idle: DeploySlot;
  /** PM2's processes of this app: the slots' and a pre-slot host's single one. */
  procs: SlotProc[];
  /** The process serving behind nginx now, when one runs. */
  serving: SlotProc | undefined;
}

/** The releases, the slots and what runs in them; a host that was not provisioned for deploys is refused. */
export async function readState(run: Run): Promise<HostState> {
  const { host, main } = run;
  return run.phase('state', async () => {
    const r = await main.script(stateScript(host), { root: true, summary: 'read the releases' });
    const s = JSON.parse(r.stdout) as HostReleases & { freeKb: number; missing: string[]; current: string | undefined; previous: string | undefined };
    if (s.missing.length > 0) {
      throw new Stop('refused', `${host.name} is not ready for deploys: missing ${s.missing.join(', ')}`, `provision it first: npx zx scripts/provision.mjs ${host.name}`);
    }
    const q = await main.script(slotStateScript(host), { root: true, summary: 'read the deploy slots' });
    const slots = JSON.parse(q.stdout) as { port: number | null; procs: SlotProc[]; memAvailableKb?: number | null };
    const live = slotOfPort(host, slots.port ?? undefined);
    if (live === undefined) {
      throw new Stop('refused', `${host.name}'s nginx upstream ${host.nginx.upstreamFile} names ${slots.port === null ? 'no port (missing)' : `port ${slots.port}`}, not a deploy slot's (${host.app.slots.a.port}, ${host.app.slots.b.port})`,
        `provision it (npx zx scripts/provision.mjs ${host.name} --only config) to create it`);
    }
    const idle = otherSlot(host, live.name);
    const running = slots.procs.filter((p) => p.name !== idle.pm2Name && p.status === 'online');
    const state: HostState = { releases: s.releases, current: s.current ?? undefined, previous: s.previous ?? undefined, freeKb: s.freeKb, memAvailableKb: slots.memAvailableKb ?? undefined, live, idle, procs: slots.procs, serving: running.find((p) => p.name === live.pm2Name) ?? running.find((p) => p.name === host.app.name && live.name === 'a') };
    return { value: state, detail: `${state.releases.length} release(s), current ${state.current ?? '(none)'}; nginx → slot ${live.name}${state.serving !== undefined ? ` (${state.serving.name} online)` : ' (nothing running there)'}, the new release goes to slot ${idle.name}` };
  });
}
