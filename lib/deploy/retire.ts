import type { DeploySlot } from '../inventory/resolve.js';
import { secs } from '../report/phases.js';
import { pruneScript, stateScript } from './commands.js';
import { releasesToPrune } from './release.js';
import type { Run } from './run.js';
import { slotStatusArgv, stopProcsScript } from './slots.js';

/** Rooms the health daemon's and the deploy's own probes open are not calls. */
const isProbeRoom = (room: string) => room.startsWith('rtcops-health-') || room.startsWith('rtcops-deploy-');

/**
 * After the switch: the old slot keeps its calls (its own process, media ports and the old nginx workers' sockets)
 * until they end or drainWaitMs passes; --now stops it at once.
 */
export async function drainOld(run: Run, old: DeploySlot, procs: string[]): Promise<void> {
  if (procs.length === 0) return run.skip('drain', 'nothing ran before');
  if (run.opts.now === true) return run.skip('drain', '--now: stopping the old release without waiting for its calls');
  await run.phase('drain', async () => {
    const t0 = Date.now();
    let last = '';
    let told = false;
    for (;;) {
      const i = run.opts.interrupt;
      if (i !== undefined && i.count >= 2) return { value: undefined, detail: `cut short by a second ${i.signal ?? 'signal'} after ${secs(Date.now() - t0)}: stopping the old release (its peers get serverDraining and reconnect to the new one)` };
      if (i?.requested === true && !told) {
        told = true;
        run.opts.onProgress?.({ host: run.host.name, phase: 'drain', state: 'start', detail: `${i.signal ?? 'a signal'}: the new release is kept (it passed the gate and the watch); the old release's calls may end first, up to ${secs(Math.max(0, run.timing.drainWaitMs - (Date.now() - t0)))} — send it again to stop it now` });
      }
      const r = await run.main.exec(slotStatusArgv(old), { root: true, allowFailure: true, stdin: `Authorization: Bearer ${run.secrets.adminToken.reveal()}\n`, summary: 'read /status' });
      if (r.code !== 0) return { value: undefined, detail: `/status of the old release did not answer (curl exit ${r.code}): no calls to wait for` };
      const status = JSON.parse(r.stdout) as { roomList?: { room: string; peers: number }[] };
      const rooms = (status.roomList ?? []).filter((x) => !isProbeRoom(x.room));
      const peers = rooms.reduce((n, x) => n + x.peers, 0);
      if (rooms.length === 0) return { value: undefined, detail: Date.now() - t0 < 1000 ? 'no calls on the old release' : `the old release's calls ended after ${secs(Date.now() - t0)}` };
      const left = run.timing.drainWaitMs - (Date.now() - t0);
      if (left <= 0) {
        return { value: undefined, detail: `${rooms.length} room(s) with ${peers} peer(s) still in calls on the old release after ${secs(run.timing.drainWaitMs)}: stopping it (its peers get serverDraining and reconnect to the new one)` };
      }
      const line = `${rooms.length} room(s), ${peers} peer(s) in calls on the old release; waiting up to ${secs(left)} for them to end (new callers already go to the new one)`;
      if (line.split(';')[0] !== last) run.opts.onProgress?.({ host: run.host.name, phase: 'drain', state: 'start', detail: line });
      last = line.split(';')[0] ?? '';
      await run.pause(Math.min(run.timing.pollMs, left), 2);
    }
  });
}

/** Stops PM2 processes (SIGTERM, the server drains) and saves PM2's list without them. */
export async function stopProcs(run: Run, names: string[], phase: string, why: string): Promise<void> {
  if (names.length === 0) return run.skip(phase, why);
  await run.phase(phase, async () => {
    const t0 = Date.now();
    await run.main.script(stopProcsScript(run.host, names), { root: true, summary: `pm2 delete ${names.join(' ')}` });
    const ms = Date.now() - t0;
    // PM2 sends SIGKILL at kill_timeout: a stop that took that long was a process deaf to SIGTERM (or a drain that hung).
    const killed = ms >= run.host.pm2.killTimeoutMs ? `: it did not exit within PM2's kill_timeout (${secs(run.host.pm2.killTimeoutMs)}) after SIGTERM, so PM2 killed it (SIGKILL)` : '';
    return { value: undefined, detail: `${names.join(', ')} stopped in ${secs(ms)}${killed}` };
  });
}

export async function prune(run: Run, protect: (string | undefined)[]): Promise<void> {
  await run.phase('prune', async () => {
    const r = await run.main.script(stateScript(run.host), { root: true, summary: 'read the releases' });
    const s = JSON.parse(r.stdout) as { releases: { id: string }[]; current: string | null; previous: string | null };
    const doomed = releasesToPrune(s.releases.map((x) => x.id), run.host.deploy.keepReleases, [...protect, s.current ?? undefined, s.previous ?? undefined]);
    await run.main.script(pruneScript(run.host, doomed), { root: true, summary: 'prune releases' });
    run.report.pruned = doomed;
    return { value: undefined, detail: doomed.length === 0 ? `${s.releases.length} release(s), none to delete` : `deleted ${doomed.join(', ')}` };
  });
}
