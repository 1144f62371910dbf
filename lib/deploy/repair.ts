import type { ResolvedHost } from '../inventory/index.js';
import type { DeploySlot } from '../inventory/resolve.js';
import { releaseDir } from '../host/index.js';
import { Stop } from '../report/phases.js';
import { switchScript } from './commands.js';
import { gate } from './gate.js';
import { readState, type HostState, type SlotProc } from './host-state.js';
import type { LockRecord } from './lock.js';
import { stopProcs } from './retire.js';
import type { Run } from './run.js';
import { otherSlot, pm2SaveScript } from './slots.js';
import { switchTo } from './switch.js';

/**
 * A deploy killed mid-way (SIGKILL, a lost laptop, a dead SSH link) leaves its lock record: the intent it wrote before
 * each phase (the release, what served before, the slots, the phase). The next deploy or rollback that breaks the
 * lock (--force-unlock) reads it, looks at the host, and first puts the host back where the killed deploy would
 * have put it had it failed: callers on the release that served and passed before, `current` and `previous` naming
 * what serves and what served before it, the killed release stopped. A release kept after its gate and watch stays.
 */

/** Phases after which the killed deploy had kept its release (it passed its gate and the full watch). */
const KEPT = new Set(['save', 'drain', 'stop old', 'prune']);

export type Killed = Partial<LockRecord>;

export type RepairPlan =
  | { kind: 'none'; detail: string }
  /** The killed release was kept, but PM2's list may not have been saved: save it (a reboot starts what serves). */
  | { kind: 'save'; detail: string }
  /** nginx sends callers to the killed, never verified release, and the release that served before still runs: back to it. */
  | { kind: 'switch-back'; detail: string; to: string; slot: DeploySlot; previous: string | undefined; stop: string }
  /** nginx never reached it (or was switched back), but `current` names it, or it still runs: the links fixed, it stopped. */
  | { kind: 'tidy'; detail: string; links?: { current: string; previous: string | undefined }; stop?: string }
  /** nginx sends callers to it and nothing else can serve: it stays, and is not recorded as a release that served. */
  | { kind: 'keep'; detail: string };

const runs = (p: SlotProc | undefined, host: ResolvedHost, id: string | undefined) => p !== undefined && id !== undefined && p.status === 'online' && p.cwd === releaseDir(host, id);

/** What to do about a killed deploy, from its record and the host as it is now. Pure. */
export function repairPlan(host: ResolvedHost, killed: Killed, state: HostState): RepairPlan {
  const what = `the killed ${killed.action ?? 'deploy'}${killed.release !== undefined ? ` of ${killed.release}` : ''} (by ${killed.by ?? '?'} at ${killed.at ?? '?'}, last phase ${killed.phase ?? '?'})`;
  const id = killed.release;
  if (id === undefined) return { kind: 'none', detail: `${what} had not named its release yet: nothing had started` };
  if (killed.phase !== undefined && KEPT.has(killed.phase)) {
    return killed.phase === 'save'
      ? { kind: 'save', detail: `${what} had kept ${id} after its gate and watch: PM2's list saved again (it was killed while saving it)` }
      : { kind: 'none', detail: `${what} had kept ${id} after its gate and watch: nothing to repair` };
  }
  const procOf = (slot: DeploySlot) => state.procs.find((p) => p.name === slot.pm2Name);
  const slotOfKilled = [host.app.slots.a, host.app.slots.b].find((s) => runs(procOf(s), host, id))
    ?? (killed.idle === 'a' || killed.idle === 'b' ? host.app.slots[killed.idle] : undefined);
  const from = killed.from;
  if (slotOfKilled !== undefined && state.live.name === slotOfKilled.name) {
    const back = otherSlot(host, slotOfKilled.name);
    const proc = procOf(back);
    if (from !== undefined && runs(proc, host, from)) {
      return { kind: 'switch-back', to: from, slot: back, previous: killed.previous, stop: slotOfKilled.pm2Name,
        detail: `${what} had switched callers to ${id} before its watch ended: nginx back to ${from} (slot ${back.name}, still running), which passes the gate again; ${id} stopped` };
    }
    return { kind: 'keep', detail: `${what} had switched callers to ${id} before its watch ended, and ${from === undefined ? 'nothing served before it' : `${from} no longer runs`}: ${id} keeps serving; it is not recorded as a release that served, so it does not become the one a rollback returns to` };
  }
  const links = state.current === id && from !== undefined ? { current: from, previous: killed.previous } : undefined;
  const stray = slotOfKilled !== undefined && slotOfKilled.name !== state.live.name && runs(procOf(slotOfKilled), host, id) ? slotOfKilled.pm2Name : undefined;
  if (links === undefined && stray === undefined) return { kind: 'none', detail: `${what} never reached a caller, and nothing of it runs: nothing to repair` };
  return {
    kind: 'tidy', ...(links !== undefined ? { links } : {}), ...(stray !== undefined ? { stop: stray } : {}),
    detail: `${what} never reached a caller: ${[links !== undefined ? `current back to ${links.current}` : '', stray !== undefined ? `${id} stopped in ${stray} (it was left running)` : ''].filter(Boolean).join(', ')}`,
  };
}

/**
 * Repairs after a killed deploy (see repairPlan), then reads the host again. Returns the state to go on from, and
 * the killed release when it serves unverified (plan `keep`), which the next switch must not record as `previous`.
 */
export async function repairKilled(run: Run, killed: Killed, state: HostState): Promise<{ state: HostState; unverified?: string }> {
  const { host, main } = run;
  const plan = repairPlan(host, killed, state);
  run.report.repaired = plan.detail;
  if (plan.kind === 'none') {
    run.skip('repair', plan.detail);
    return { state };
  }
  if (plan.kind === 'keep') {
    run.skip('repair', plan.detail);
    return { state, ...(killed.release !== undefined ? { unverified: killed.release } : {}) };
  }
  if (plan.kind === 'switch-back') {
    // The same switch as a deploy's (nginx, then current and previous), under the repair's own phase name.
    await switchTo(run, plan.to, plan.slot, plan.previous, 'repair');
    try {
      await gate(run, plan.to, plan.slot, 'verify repaired', { pm2Name: plan.slot.pm2Name });
    } catch (err) {
      throw new Stop('failed', `repairing after ${plan.detail.split(':')[0]}: ${plan.to} did not pass the gate after the switch back: ${(err as Error).message}`, `look at the host now: npx zx scripts/releases.mjs ${host.name}`);
    }
  } else {
    await run.phase('repair', async () => {
      if (plan.kind === 'save') await main.script(pm2SaveScript(host), { root: true, summary: 'pm2 save' });
      if (plan.kind === 'tidy' && plan.links !== undefined) await main.script(switchScript(host, plan.links.current, plan.links.previous), { root: true, summary: `switch current to ${plan.links.current}` });
      return { value: undefined, detail: plan.detail };
    });
  }
  const stop = plan.kind === 'switch-back' ? plan.stop : plan.kind === 'tidy' ? plan.stop : undefined;
  if (stop !== undefined) await stopProcs(run, [stop], 'stop killed', '');
  return { state: await readState(run) };
}
