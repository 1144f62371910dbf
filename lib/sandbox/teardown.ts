// Undoing an instance: everything it may have created, in reverse order; safe on a half-started one.
import fs from 'node:fs';
import path from 'node:path';
import { stopAcme } from './acme.js';
import { stopGuest } from './guest.js';
import type { InstanceState } from './instance-state.js';
import type { SandboxLayout } from './layout.js';
import { mountsUnder, removeTree, unmountAll } from './mounts.js';
import { bridgeDown, removeProbes } from './network.js';
import { containerProcesses, processesMentioning, signalAll, terminate, waitForExit } from './processes.js';

// Returns what it removed, for the operator ("guest, apt proxy, bridge rtcops-sb3").
export async function teardown(layout: SandboxLayout, state: InstanceState | undefined): Promise<string[]> {
  const removed: string[] = [];
  if (await stopGuest(layout, state?.guestPid)) removed.push('guest');
  const proxy = processesMentioning(layout.proxyConfDir);
  if (proxy.length > 0) {
    await terminate(proxy, 5_000);
    removed.push('apt proxy');
  }
  if (await stopAcme(layout)) removed.push('ACME server (pebble, pebble-challtestsrv)');
  // Whatever a crashed or killed earlier run left: a container without its nspawn, a stray process.
  const orphans = containerProcesses(path.join(layout.layerDir, 'upper'));
  const strays = processesMentioning(layout.instanceDir + '/');
  if (orphans.length + strays.length > 0) {
    signalAll(orphans, 'SIGKILL');
    await terminate(strays, 5_000);
    await waitForExit(orphans, 5_000);
    removed.push(`${orphans.length + strays.length} leftover process(es)`);
  }
  if (mountsUnder(layout.instanceDir).length > 0) {
    await unmountAll(layout.instanceDir);
    removed.push('overlay and tmpfs');
  }
  removed.push(...(await removeProbes(layout)).map((ns) => `probe namespace ${ns}`));
  if (state && (await bridgeDown(layout))) removed.push(`bridge ${layout.bridge}`);
  await removeTree(layout.layerDir);
  await removeTree(layout.rootDir);
  fs.rmSync(layout.statePath, { force: true });
  return removed;
}
