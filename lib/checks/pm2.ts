import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Check, Outcome } from './result.js';

export interface Pm2Options {
  processName: string;
  /** PM2_HOME of the user PM2 runs as; default ~/.pm2 of this process's user. */
  home?: string | undefined;
  /** Restarts since the previous run that warn / are critical. */
  restartWarn: number;
  restartCritical: number;
}

export interface Pm2Process {
  name: string;
  pid: number;
  pm2_env: { status: string; restart_time: number; unstable_restarts?: number };
  monit?: { memory: number; cpu: number };
}

const run = promisify(execFile);

/** Grade one PM2 process against the restart count seen last time. */
export function gradePm2(o: Pm2Options, list: Pm2Process[], lastRestarts: number | undefined): Omit<Outcome, 'check' | 'target'> & { restarts?: number } {
  const p = list.find((x) => x.name === o.processName);
  if (p === undefined) return { status: 'critical', message: `PM2 has no process named ${o.processName}: deploy the server or check pm2 list`, values: {} };
  const restarts = p.pm2_env.restart_time;
  const spike = lastRestarts === undefined ? 0 : Math.max(0, restarts - lastRestarts);
  const values = { status: p.pm2_env.status, restarts, restartsSinceLastRun: spike, memoryMiB: Math.round((p.monit?.memory ?? 0) / 1048576), cpuPercent: p.monit?.cpu ?? null };
  if (p.pm2_env.status !== 'online') return { status: 'critical', message: `PM2 process ${o.processName} is ${p.pm2_env.status}`, values, restarts };
  if (spike >= o.restartCritical) return { status: 'critical', message: `PM2 restarted ${o.processName} ${spike} times since the last check (critical at ${o.restartCritical})`, values, restarts };
  if (spike >= o.restartWarn) return { status: 'warn', message: `PM2 restarted ${o.processName} ${spike} time${spike === 1 ? '' : 's'} since the last check (warning at ${o.restartWarn})`, values, restarts };
  return { status: 'ok', message: `PM2 process ${o.processName} online, ${restarts} restarts in total`, values, restarts };
}

/** PM2 process state and restart spikes, from `pm2 jlist`; not applicable where PM2 is not installed. */
export class Pm2Check implements Check {
  readonly name = 'pm2';
  readonly targets: string[];
  private lastRestarts: number | undefined;

  constructor(private readonly o: Pm2Options, private readonly pm2Bin = 'pm2') {
    this.targets = [o.processName];
  }

  async run(): Promise<Outcome[]> {
    let stdout: string;
    try {
      ({ stdout } = await run(this.pm2Bin, ['jlist'], { timeout: 8000, maxBuffer: 16 * 1024 * 1024, ...(this.o.home === undefined ? {} : { env: { ...process.env, PM2_HOME: this.o.home } }) }));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [{ check: this.name, target: this.o.processName, status: 'skipped', message: 'not applicable: pm2 is not installed here', values: {} }];
      return [{ check: this.name, target: this.o.processName, status: 'critical', message: `pm2 jlist failed: ${(error as Error).message.split('\n')[0] ?? ''}`, values: {} }];
    }
    const g = gradePm2(this.o, JSON.parse(stdout.slice(stdout.indexOf('['))) as Pm2Process[], this.lastRestarts);
    this.lastRestarts = g.restarts ?? this.lastRestarts;
    return [{ check: this.name, target: this.o.processName, status: g.status, message: g.message, values: g.values }];
  }
}
