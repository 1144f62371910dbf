// Shared by the sandbox integration tests: the real CLI as a subprocess, and what a sandbox may leave on the host.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultStateDir } from '../../../lib/sandbox/index.js';
import { preferredIndex } from '../../../lib/sandbox/layout.js';
import { rootMountIsOverlay } from '../../../lib/sandbox/processes.js';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const stateDir = defaultStateDir();

// scripts/sandbox.mjs imports the compiled code: build it once so the tests run what operators run.
export function buildOnce(): void {
  try {
    execFileSync(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: repo, stdio: 'pipe' });
  } catch {
    // a type error elsewhere in the tree still emits; the check below is what matters
  }
  if (!fs.existsSync(path.join(repo, 'dist/lib/sandbox/cli.js'))) throw new Error('npm run build did not produce dist/lib/sandbox/cli.js');
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function startCli(args: string[]): ChildProcess {
  return spawn(process.execPath, [path.join(repo, 'node_modules/zx/build/cli.js'), path.join(repo, 'scripts/sandbox.mjs'), ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function cli(args: string[], onStderr?: (text: string, child: ChildProcess) => void): Promise<CliRun> {
  const child = startCli(args);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    process.stderr.write(chunk);
    onStderr?.(stderr, child);
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

export interface HostSnapshot {
  links: string[];
  mounts: string[];
  processes: string[];
  namespaces: string[];
  listeners: string[];
}

function commandLines(): { pid: string; cmdline: string; environ: string[] }[] {
  const read = (pid: string, file: string) => {
    try {
      return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\0');
    } catch {
      return [];
    }
  };
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((pid) => ({ pid, cmdline: read(pid, 'cmdline').join(' '), environ: read(pid, 'environ') }))
    // a zombie (already exited, not reaped yet) has an empty command line: nothing runs
    .filter(({ cmdline }) => cmdline !== '');
}

// TCP and UDP sockets listening on the host side of sandbox `index`'s bridge (apt proxy, ACME server, ...).
export function bridgeListeners(index: number): string[] {
  const hostAddress = `10.77.${index}.1:`;
  return execFileSync('ss', ['-ltunH'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[4]?.startsWith(hostAddress))
    .map((cols) => `${cols[0]} ${cols[4]}`)
    .sort();
}

// Everything sandbox `name` (in `dir`) could leave behind: its interfaces, mounts, processes (its container's
// too, and its ACME server's, marked in their environment), network namespaces and listeners on its bridge address. Scoped to that sandbox, so other sandboxes running on the machine do not matter.
export function hostSnapshot(name: string, dir = stateDir): HostSnapshot {
  const index = preferredIndex(name);
  const instance = path.join(dir, 'instances', name) + '/';
  const building = (text: string) => text.includes(`${dir}/images/`) && /\/images\/[^/ ]+\.build/.test(text);
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(': ')[1]?.split('@')[0] ?? '')
    .filter((link) => link === `vb-${name}` || link === `rtcops-sb${index}` || link.startsWith(`rtsb${index}p`));
  const mounts = fs
    .readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((line) => line.includes(instance) || building(line));
  const processes = commandLines()
    .filter(
      ({ pid, cmdline, environ }) =>
        cmdline.includes(instance) ||
        building(cmdline) ||
        environ.some((entry) => entry.startsWith('RTCOPS_SANDBOX_ACME=') && entry.includes(instance)) ||
        rootMountIsOverlay(pid, `${instance}layer/upper`),
    )
    .map(({ pid, cmdline }) => `${pid} ${cmdline}`);
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((ns) => ns.startsWith(`rtcops-${name}-`));
  return { links: links.sort(), mounts: mounts.sort(), processes: processes.sort(), namespaces: namespaces.sort(), listeners: bridgeListeners(index) };
}

export function linkExists(link: string): boolean {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).includes(`: ${link}:`);
}

export function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}
