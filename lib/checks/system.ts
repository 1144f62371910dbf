import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { grade, type Check, type Outcome } from './result.js';

export interface SystemOptions {
  memoryWarnPercent: number;
  memoryCriticalPercent: number;
  cpuWarnPercent: number;
  cpuCriticalPercent: number;
  /** 1-minute load average divided by the number of cores. */
  loadWarnPerCore: number;
  loadCriticalPerCore: number;
}

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

/** Memory, CPU (since the previous run; sustained load is the failure threshold's job) and load per core. */
export class SystemCheck implements Check {
  readonly name = 'system';
  readonly targets = ['memory', 'cpu', 'load'];
  private last = cpuTimes();

  constructor(private readonly o: SystemOptions) {}

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
    return [
      { check: this.name, target: 'memory', status: grade(mem.usedPercent, o.memoryWarnPercent, o.memoryCriticalPercent), message: `memory ${mem.usedPercent}% used, ${mem.availableMiB} MiB available (warning at ${o.memoryWarnPercent}%, critical at ${o.memoryCriticalPercent}%)`, values: mem },
      { check: this.name, target: 'cpu', status: grade(cpuPercent, o.cpuWarnPercent, o.cpuCriticalPercent), message: `CPU ${cpuPercent}% busy over ${cores} cores (warning at ${o.cpuWarnPercent}%, critical at ${o.cpuCriticalPercent}%)`, values: { cpuPercent, cores } },
      { check: this.name, target: 'load', status: grade(loadPerCore, o.loadWarnPerCore, o.loadCriticalPerCore), message: `load ${load1.toFixed(2)} on ${cores} cores = ${loadPerCore} per core (warning at ${o.loadWarnPerCore}, critical at ${o.loadCriticalPerCore})`, values: { load1, loadPerCore } },
    ];
  }
}
