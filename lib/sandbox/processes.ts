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
}

// Runs one command; a failure names the command and quotes the end of its output.
export async function run(argv: Argv, options: RunOptions = {}): Promise<string> {
  const [file, ...args] = argv;
  const child = execa(file, args, {
    reject: false,
    all: true,
    stdin: options.input === undefined ? 'ignore' : 'pipe',
    ...(options.input === undefined ? {} : { input: options.input }),
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    forceKillAfterDelay: 10_000,
    env: { LC_ALL: 'C.UTF-8' },
  });
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
  if (options.signal?.aborted) throw new SandboxAborted(`interrupted during: ${argv.join(' ')}`);
  if (result.exitCode !== 0 || result.failed) {
    const tail = String(result.all ?? '').trim().split('\n').slice(-15).join('\n');
    throw new SandboxFailure(`command failed (${result.exitCode ?? result.signal}): ${argv.join(' ')}\n${tail}`);
  }
  return String(result.stdout ?? '');
}

// Like run, but a non-zero exit is an answer, not an error.
export async function probe(argv: Argv): Promise<{ ok: boolean; stdout: string }> {
  const [file, ...args] = argv;
  const result = await execa(file, args, { reject: false, stdin: 'ignore', env: { LC_ALL: 'C.UTF-8' } });
  return { ok: result.exitCode === 0, stdout: String(result.stdout ?? '') };
}

// Starts a daemon in its own session with stdio in a log file, so it outlives the command that started it.
export function spawnDetached(argv: Argv, logPath: string): number {
  const log = fs.openSync(logPath, 'a');
  try {
    const [file, ...args] = argv;
    const child = spawn(file, args, { detached: true, stdio: ['ignore', log, log], env: { ...process.env, LC_ALL: 'C.UTF-8' } });
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

// SIGTERM, wait up to graceMs for the processes to exit, then SIGKILL their process groups.
export async function terminate(pids: number[], graceMs: number): Promise<void> {
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  pids.forEach((pid) => signal(pid, 'SIGTERM'));
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
  const left = pids.filter(isAlive);
  left.forEach((pid) => {
    signal(-pid, 'SIGKILL');
    signal(pid, 'SIGKILL');
  });
  const killDeadline = Date.now() + 5_000;
  while (left.some(isAlive) && Date.now() < killDeadline) await sleep(50);
}

export function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
