import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';

/**
 * What the system check reads besides /proc: whether this is a container (its CPU, load and clock are the machine's),
 * whether a reboot is pending and why, and the clock's offset from its time source. Parsers are pure; the readers
 * run the tools the host has.
 */

/** The container manager's name (systemd writes /run/systemd/container in a container: nspawn, docker, lxc), or undefined. */
export function containerKind(file = '/run/systemd/container'): string | undefined {
  if (existsSync('/.dockerenv')) return 'docker';
  try {
    return readFileSync(file, 'utf8').trim() || 'container';
  } catch {
    return undefined;
  }
}

/** Version order as dpkg would sort kernel releases: digit runs compared as numbers. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/(\d+)/);
  const pb = b.split(/(\d+)/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    if (x === y) continue;
    const nx = Number(x);
    const ny = Number(y);
    if (x !== '' && y !== '' && !Number.isNaN(nx) && !Number.isNaN(ny)) return nx - ny;
    return x < y ? -1 : 1;
  }
  return 0;
}

export interface RebootFacts {
  /** /run/reboot-required exists (Ubuntu's update-notifier, Debian's unattended-upgrades kernel hook). */
  flagged: boolean;
  /** Packages that asked for it (/run/reboot-required.pkgs). */
  packages: string[];
  running: string;
  /** The newest kernel in /boot, when it is not the running one. */
  newerKernel?: string | undefined;
}

/** Reboot-required: the flag file and its packages; and, on a machine with its own kernel, a newer one installed in /boot. */
export function rebootFacts(o: { run?: string; boot?: string; running?: string; container: boolean } = { container: false }): RebootFacts {
  const run = o.run ?? '/run';
  const running = o.running ?? release();
  const flagged = existsSync(`${run}/reboot-required`);
  let packages: string[] = [];
  try {
    packages = [...new Set(readFileSync(`${run}/reboot-required.pkgs`, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== ''))];
  } catch {
    // No list: the flag alone, or nothing pending.
  }
  let newerKernel: string | undefined;
  if (!o.container) {
    let kernels: string[] = [];
    try {
      kernels = readdirSync(o.boot ?? '/boot').filter((f) => f.startsWith('vmlinuz-')).map((f) => f.slice('vmlinuz-'.length));
    } catch {
      // No /boot to read: nothing to compare.
    }
    const newest = kernels.sort(compareVersions).at(-1);
    if (newest !== undefined && compareVersions(newest, running) > 0) newerKernel = newest;
  }
  return { flagged, packages, running, newerKernel };
}

export interface ClockFacts {
  /** chrony, systemd-timesyncd, the kernel's own NTP state (adjtimex, as timedatectl shows it: another daemon keeps it), or none. */
  source: 'chrony' | 'timesyncd' | 'kernel' | 'none';
  synchronized: boolean | undefined;
  /** |local clock - reference| in ms, when the source says. */
  offsetMs: number | undefined;
  /** The time server, when known. */
  server?: string | undefined;
}

/** `chronyc -c tracking`: ref id, name, stratum, ref time, system time offset (s), ..., leap status (last field). */
export function parseChronyTracking(csv: string): ClockFacts | undefined {
  const f = csv.trim().split('\n')[0]?.split(',') ?? [];
  if (f.length < 14) return undefined;
  const offset = Number(f[4]);
  const leap = f.at(-1) ?? '';
  return { source: 'chrony', synchronized: leap !== 'Not synchronised', offsetMs: Number.isFinite(offset) ? Math.abs(offset) * 1000 : undefined, server: f[1] || undefined };
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, min: 60_000 };

/** `timedatectl timesync-status` (systemd-timesyncd): "Offset: -1.234ms", "Server: 10.0.0.1 (ntp.example)"; the kernel's sync state (adjtimex) from `timedatectl show`. */
export function parseTimesyncStatus(status: string, show: string): ClockFacts | undefined {
  const m = /^\s*Offset:\s*([+-]?[\d.]+)\s*(ns|us|µs|ms|s|min)\s*$/m.exec(status);
  const synced = /^NTPSynchronized=(yes|no)$/m.exec(show)?.[1];
  if (m === null && synced === undefined) return undefined;
  const server = /^\s*Server:\s*(\S+)/m.exec(status)?.[1];
  return {
    source: m === null ? 'kernel' : 'timesyncd',
    synchronized: synced === undefined ? undefined : synced === 'yes',
    offsetMs: m === null ? undefined : Math.abs(Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] ?? 1)),
    server,
  };
}

const output = (cmd: string, args: string[]) => new Promise<string | undefined>((resolve) => {
  execFile(cmd, args, { timeout: 3000 }, (err, stdout) => resolve(err === null ? String(stdout) : undefined));
});

/** The clock's facts from chrony if it runs, else systemd-timesyncd, else none. */
export async function clockFacts(): Promise<ClockFacts> {
  const chrony = await output('chronyc', ['-c', 'tracking']);
  const parsedChrony = chrony === undefined ? undefined : parseChronyTracking(chrony);
  if (parsedChrony !== undefined) return parsedChrony;
  const [status, show] = await Promise.all([output('timedatectl', ['timesync-status', '--no-pager']), output('timedatectl', ['show', '--no-pager'])]);
  return parseTimesyncStatus(status ?? '', show ?? '') ?? { source: 'none', synchronized: undefined, offsetMs: undefined };
}
