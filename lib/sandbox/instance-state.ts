// What an instance records about itself (state.json) and the pid-file locks that keep two commands off one sandbox.
import fs from 'node:fs';
import path from 'node:path';
import { SandboxConfigError } from './errors.js';
import { layoutFor, type SandboxLayout } from './layout.js';
import { isAlive, processesMentioning } from './processes.js';
import { DEFAULT_OS, type SandboxOs } from './releases.js';

export interface InstanceState {
  name: string;
  index: number;
  // Absent in state written before sandboxes had a release to choose: those are Debian 12.
  os?: SandboxOs;
  phase: 'starting' | 'running';
  startedAt?: string;
  guestPid?: number;
  proxyPid?: number;
  pebblePid?: number;
  challtestsrvPid?: number;
}

export function instanceDir(stateDir: string, name: string): string {
  return path.join(stateDir, 'instances', name);
}

export function readState(stateDir: string, name: string): InstanceState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(instanceDir(stateDir, name), 'state.json'), 'utf8')) as InstanceState;
  } catch {
    return undefined;
  }
}

export function writeState(layout: SandboxLayout, state: InstanceState): void {
  fs.mkdirSync(layout.instanceDir, { recursive: true });
  fs.writeFileSync(layout.statePath + '.tmp', JSON.stringify(state, null, 2) + '\n');
  fs.renameSync(layout.statePath + '.tmp', layout.statePath);
}

// The layout an instance was started with (index 0 and the default release when nothing was recorded).
export function recordedLayout(stateDir: string, name: string, state: InstanceState | undefined): SandboxLayout {
  return layoutFor(name, stateDir, state?.index ?? 0, state?.os ?? DEFAULT_OS);
}

// Running means booted to SSH by an "up" that finished; a guest whose "up" died half-way is cleaned up, not reused.
export function guestRunning(layout: SandboxLayout, state: InstanceState | undefined): boolean {
  return (
    state?.phase === 'running' &&
    state.guestPid !== undefined &&
    isAlive(state.guestPid) &&
    processesMentioning(layout.rootDir).includes(state.guestPid)
  );
}

// A pid file as a lock: a second command on the same sandbox waits for nobody and says who holds it.
export async function withLock<T>(lockPath: string, what: string, work: () => Promise<T>): Promise<T> {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  for (;;) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(lockPath, 'utf8'));
      if (holder && holder !== process.pid && isAlive(holder)) {
        throw new SandboxConfigError(`another rtcops command (pid ${holder}) is working on ${what}; wait for it to finish`);
      }
      fs.rmSync(lockPath, { force: true });
    }
  }
  try {
    return await work();
  } finally {
    fs.rmSync(lockPath, { force: true });
  }
}
