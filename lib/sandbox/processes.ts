// Running host commands, starting detached daemons, and finding and stopping them again by their command line.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { SandboxAborted, SandboxFailure } from './errors.js';

export type Argv = readonly [string, ...string[]];

export interface RunOptions {
  signal?: AbortSignal;
  input?: string;
  onLine?: (line: string) => void;
  // Run in a process group of its own and stop the whole group on abort (a tool that forks, like mmdebstrap).
  processGroup?: boolean;
}

// Runs one command; a failure names the command and quotes the end of its output.
export async function run(argv: Argv, options: RunOptions = {}): Promise<string> {
  const [file, ...args] = argv;
  const child = execa(file, args, {
    reject: false,
    all: true,
    stdin: options.input === undefined ? 'ignore' : 'pipe',
    ...(options.input === undefined ? {} : { input: options.input }),
    ...(options.signal && !options.processGroup ? { cancelSignal: options.signal } : {}),
    detached: options.processGroup ?? false,
    forceKillAfterDelay: 10_000,
    env: { LC_ALL: 'C.UTF-8' },
  });
  const group = child.pid === undefined ? [] : [-child.pid];
  const stopGroup = () => {
    signalAll(group, 'SIGTERM');
    setTimeout(() => signalAll(group, 'SIGKILL'), 10_000).unref();
  };
  if (options.processGroup) {
    if (options.signal?.aborted) stopGroup();
    options.signal?.addEventListener('abort', stopGroup, { once: true });
  }
  if (options.onLine) {
    const onLine = options.onLine;
    let pending = '';
    child.all?.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(onLine);
    });
  }
  const result = await child;
  options.signal?.removeEventListener('abort', stopGroup);
  if (options.signal?.aborted) throw new SandboxAborted(`interrupted during ${file}`);
  if (result.exitCode !== 0 || result.failed) {
    const tail = String(result.all ?? '').trim().split('\n').slice(-15).join('\n');
    throw new SandboxFailure(`command failed (${result.exitCode ?? result.signal}): ${argv.join(' ')}\n${tail}`);
  }
  return String(result.stdout ?? '');
}

// Like run, but a non-zero exit is an answer, not an error.
export async function query(argv: Argv): Promise<{ ok: boolean; stdout: string }> {
  const [file, ...args] = argv;
  const result = await execa(file, args, { reject: false, stdin: 'ignore', env: { LC_ALL: 'C.UTF-8' } });
  return { ok: result.exitCode === 0, stdout: String(result.stdout ?? '') };
}

// Starts a daemon in its own session with stdio in a log file, so it outlives the command that started it.
export function spawnDetached(argv: Argv, logPath: string, env: Record<string, string> = {}): number {
  const log = fs.openSync(logPath, 'a');
  try {
    const [file, ...args] = argv;
    const child = spawn(file, args, { detached: true, stdio: ['ignore', log, log], env: { ...process.env, LC_ALL: 'C.UTF-8', ...env } });
    if (child.pid === undefined) throw new SandboxFailure(`could not start ${file}`);
    child.unref();
    return child.pid;
  } finally {
    fs.closeSync(log);
  }
}

function commandLine(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) Z/s.test(stat)) return undefined;
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  return commandLine(pid) !== undefined;
}

// Every live process whose command line mentions the marker (a path only this sandbox uses).
export function processesMentioning(marker: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid && (commandLine(pid)?.includes(marker) ?? false));
}

// Every live process started with this exact environment entry ("NAME=value"): a marker for daemons whose
// command line names nothing of the sandbox.
export function processesWithEnvironment(entry: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid) && Number(pid) !== process.pid)
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(entry) && isAlive(Number(pid));
      } catch {
        return false;
      }
    })
    .map(Number);
}

export function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

// Waits until none of the processes is alive; false when the deadline passed first.
export async function waitForExit(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

// SIGTERM, wait up to graceMs for the processes to exit, then SIGKILL them and their process groups.
export async function terminate(pids: number[], graceMs: number): Promise<void> {
  signalAll(pids, 'SIGTERM');
  if (await waitForExit(pids, graceMs)) return;
  const left = pids.filter(isAlive);
  signalAll(left.map((pid) => -pid), 'SIGKILL');
  signalAll(left, 'SIGKILL');
  await waitForExit(left, 5_000);
}

// Processes inside a container whose root is an overlay with this upper directory (they live in their own
// PID and mount namespaces, so neither their command line nor their root path shows it from the host).
export function containerProcesses(upperDir: string): number[] {
  const own = nsOf('self');
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && entry !== '1')
    .filter((pid) => {
      const ns = nsOf(pid);
      return ns !== undefined && own !== undefined && ns !== own && rootMountIsOverlay(pid, upperDir);
    })
    .map(Number);
}

// True when the process's own "/" (mountinfo field 5) is the overlay with this upper directory.
export function rootMountIsOverlay(pid: string, upperDir: string, mountinfo?: string): boolean {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
    } catch {
      return false;
    }
  }
  return text.split('\n').some((line) => line.split(' ')[4] === '/' && line.includes(` overlay `) && line.includes(`upperdir=${upperDir},`));
}

function nsOf(pid: string): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

export function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
