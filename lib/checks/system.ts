import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { clockFacts, containerKind, rebootFacts, type ClockFacts, type RebootFacts } from './host-facts.js';
import { grade, type Check, type Outcome, type Status } from './result.js';

export interface SystemOptions {
  memoryWarnPercent: number;
  memoryCriticalPercent: number;
  cpuWarnPercent: number;
  cpuCriticalPercent: number;
  /** 1-minute load average divided by the number of cores. */
  loadWarnPerCore: number;
  loadCriticalPerCore: number;
  /** |clock offset| from the time source that warns / is critical. */
  clockWarnMs: number;
  clockCriticalMs: number;
}

/** What the check reads; the defaults read this machine (tests pass their own). */
export interface SystemSources {
  container: () => string | undefined;
  reboot: (container: boolean) => RebootFacts;
  clock: () => Promise<ClockFacts>;
}

const MACHINE: SystemSources = { container: () => containerKind(), reboot: (container) => rebootFacts({ container }), clock: clockFacts };

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times.user + c.times.nice + c.times.sys + c.times.irq;
    busy += t;
    total += t + c.times.idle;
  }
  return { busy, total };
}

/** MemAvailable, as `free` reports it: what can be used without swapping. */
export async function memoryUsedPercent(meminfo = '/proc/meminfo'): Promise<{ usedPercent: number; availableMiB: number }> {
  const text = await readFile(meminfo, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  const total = kb('MemTotal');
  const available = kb('MemAvailable');
  return { usedPercent: Math.round(((total - available) / total) * 1000) / 10, availableMiB: Math.round(available / 1024) };
}

/** A pending reboot warns, naming what asked for it: unattended-upgrades installs kernels and libc but never reboots. */
export function gradeReboot(r: RebootFacts): Omit<Outcome, 'check' | 'target'> {
  const why = [
    ...(r.flagged ? [r.packages.length > 0 ? `${r.packages.join(', ')} (/run/reboot-required)` : '/run/reboot-required is set'] : []),
    ...(r.newerKernel !== undefined ? [`kernel ${r.newerKernel} is installed, ${r.running} is running`] : []),
  ];
  const values = { rebootRequired: why.length > 0, packages: r.packages.join(',') || null, runningKernel: r.running };
  if (why.length === 0) return { status: 'ok', message: `no reboot pending (kernel ${r.running})`, values };
  return { status: 'warn', message: `a reboot is pending: ${why.join('; ')}; reboot in a maintenance window (RUNBOOK.md#maintenance)`, values };
}

export function gradeClock(c: ClockFacts, o: Pick<SystemOptions, 'clockWarnMs' | 'clockCriticalMs'>): Omit<Outcome, 'check' | 'target'> {
  const offsetMs = c.offsetMs === undefined ? null : Math.round(c.offsetMs * 10) / 10;
  const values = { source: c.source, synchronized: c.synchronized ?? null, offsetMs };
  if (c.source === 'none') return { status: 'warn', message: 'no time synchronisation found (chrony, systemd-timesyncd): the clock drifts, and tokens and TURN credentials are time-limited', values };
  const via = `${c.source}${c.server === undefined ? '' : `, ${c.server}`}`;
  const status: Status = offsetMs === null ? 'ok' : grade(offsetMs, o.clockWarnMs, o.clockCriticalMs);
  const offset = offsetMs === null ? 'offset not reported' : `offset ${offsetMs} ms (warning at ${o.clockWarnMs} ms, critical at ${o.clockCriticalMs} ms)`;
  if (c.synchronized === false) return { status: status === 'critical' ? 'critical' : 'warn', message: `the clock is not synchronised (${via}); ${offset}`, values };
  return { status, message: `clock synchronised (${via}), ${offset}`, values };
}

/**
 * Memory, CPU (since the previous run; sustained load is the failure threshold's job), load per core, a pending
 * reboot, and the clock's offset. In a container (the sandbox), CPU, load, memory and the clock are the machine's,
 * shared with whatever else it runs: they are reported, not judged.
 */
export class SystemCheck implements Check {
  readonly name = 'system';
  readonly targets = ['memory', 'cpu', 'load', 'reboot', 'clock'];
  private last = cpuTimes();

  constructor(private readonly o: SystemOptions, private readonly sources: SystemSources = MACHINE) {}

  async run(): Promise<Outcome[]> {
    const mem = await memoryUsedPercent();
    let now = cpuTimes();
    if (now.total - this.last.total < 100) {
      await new Promise((r) => setTimeout(r, 200));
      now = cpuTimes();
    }
    const cpuPercent = Math.round(((now.busy - this.last.busy) / Math.max(1, now.total - this.last.total)) * 1000) / 10;
    this.last = now;
    const cores = cpus().length;
    const load1 = loadavg()[0] ?? 0;
    const loadPerCore = Math.round((load1 / cores) * 100) / 100;
    const o = this.o;
    const container = this.sources.container();
    // A container's figures are the machine's: its status says so instead of judging them.
    const judged = (status: Status, message: string): { status: Status; message: string } => container === undefined ? { status, message } : { status: 'skipped', message: `${message}; not judged: this host is a ${container} container, these are the machine's figures` };
    const clock = container === undefined ? gradeClock(await this.sources.clock(), o) : { status: 'skipped' as const, message: `not judged: this host is a ${container} container, its clock is the machine's`, values: {} };
    return [
      { check: this.name, target: 'memory', ...judged(grade(mem.usedPercent, o.memoryWarnPercent, o.memoryCriticalPercent), `memory ${mem.usedPercent}% used, ${mem.availableMiB} MiB available (warning at ${o.memoryWarnPercent}%, critical at ${o.memoryCriticalPercent}%)`), values: mem },
      { check: this.name, target: 'cpu', ...judged(grade(cpuPercent, o.cpuWarnPercent, o.cpuCriticalPercent), `CPU ${cpuPercent}% busy over ${cores} cores (warning at ${o.cpuWarnPercent}%, critical at ${o.cpuCriticalPercent}%)`), values: { cpuPercent, cores } },
      { check: this.name, target: 'load', ...judged(grade(loadPerCore, o.loadWarnPerCore, o.loadCriticalPerCore), `load ${load1.toFixed(2)} on ${cores} cores = ${loadPerCore} per core (warning at ${o.loadWarnPerCore}, critical at ${o.loadCriticalPerCore})`), values: { load1, loadPerCore } },
      { check: this.name, target: 'reboot', ...gradeReboot(this.sources.reboot(container !== undefined)) },
      { check: this.name, target: 'clock', ...clock },
    ];
  }
}
