import type { DeploySlot } from '../inventory/resolve.js';
import { markServedScript, switchScript } from './commands.js';
import type { Run } from './run.js';
import { pm2SaveScript, switchUpstreamScript } from './slots.js';

/** nginx to the slot (graceful reload), then `current` (and `previous`) to the release it runs. */
export async function switchTo(run: Run, id: string, slot: DeploySlot, previous: string | undefined, phase = 'switch'): Promise<void> {
  await run.phase(phase, async () => {
    await run.main.script(switchUpstreamScript(run.host, slot), { root: true, summary: `nginx to slot ${slot.name}` });
    await run.main.script(switchScript(run.host, id, previous), { root: true, summary: `switch current to ${id}` });
    return { value: undefined, detail: `nginx → slot ${slot.name} (port ${slot.port}), current → ${id}` };
  });
}

/** PM2's list saved once the release passed: a reboot starts what serves, never an unverified release. The release is marked as served. */
export async function save(run: Run, id: string, served: string | undefined): Promise<void> {
  await run.phase('save', async () => {
    const mark = served === undefined ? `\n${markServedScript(run.host, id, new Date().toISOString())}` : '';
    await run.main.script(`${pm2SaveScript(run.host)}${mark}`, { root: true, summary: 'pm2 save' });
    return { value: undefined, detail: 'pm2 save: a reboot starts this release' };
  });
}
