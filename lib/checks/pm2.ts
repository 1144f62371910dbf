import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readDeployMarker } from '../alerting/deploy-marker.js';
import type { Check, Outcome } from './result.js';
import { livePort } from './live-slot.js';

export interface Pm2Options {
  processName: string;
  /** Deploy slots: the process of the slot nginx's upstream file names (port → process name) instead of processName. */
  slots?: { upstreamFile: string; processes: Record<string, string> } | undefined;
  /** PM2_HOME of the user PM2 runs as; default ~/.pm2 of this process's user. */
  home?: string | undefined;
  /** This many restarts within the window is a crash loop: critical. */
  crashLoopRestarts: number;
  crashLoopWindowMin: number;
  /** The deploy marker: restarts a deploy makes are not crashes, and a new release starts a new history. */
  deployMarker?: string | undefined;
}

export interface Pm2Process {
  name: string;
  pid: number;
  pm2_env: { status: string; restart_time: number; unstable_restarts?: number };
  monit?: { memory: number; cpu: number };
}

/** PM2's restart counter at one run. */
export interface RestartSample {
  at: number;
  restarts: number;
}

/**
 * The samples worth keeping and the restarts within the window: from the last sample at or before the window's start
 * (else the oldest), to now. A counter that went back (the process was deleted and started again) and a deploy (its
 * own restarts, and a new release) start the history again.
 */
export function restartsInWindow(samples: RestartSample[], now: RestartSample, windowMs: number, deployEnd?: number): { samples: RestartSample[]; restarts: number; sinceMs: number } {
  let kept = [...samples, now];
  if ((samples.at(-1)?.restarts ?? 0) > now.restarts) kept = [now];
  if (deployEnd !== undefined) kept = kept.filter((s) => s.at >= deployEnd);
  const start = now.at - windowMs;
  const baselineIndex = Math.max(0, kept.findLastIndex((s) => s.at <= start));
  kept = kept.slice(baselineIndex);
  const base = kept[0] ?? now;
  return { samples: kept, restarts: now.restarts - base.restarts, sinceMs: now.at - base.at };
}

const run = promisify(execFile);
const minutes = (ms: number) => `${Math.max(1, Math.round(ms / 60_000))} min`;

/** Grade one PM2 process by its state and the restarts within the crash-loop window (a rate, not a delta since the last run). */
export function gradePm2(o: Pm2Options, list: Pm2Process[], window: { restarts: number; sinceMs: number } | undefined): Omit<Outcome, 'check' | 'target'> {
  const p = list.find((x) => x.name === o.processName);
  if (p === undefined) return { status: 'critical', message: `PM2 has no process named ${o.processName}: deploy the server or check pm2 list`, values: {} };
  const inWindow = window?.restarts ?? 0;
  const values = { status: p.pm2_env.status, restarts: p.pm2_env.restart_time, restartsInWindow: inWindow, memoryMiB: Math.round((p.monit?.memory ?? 0) / 1048576), cpuPercent: p.monit?.cpu ?? null };
  if (p.pm2_env.status !== 'online') return { status: 'critical', message: `PM2 process ${o.processName} is ${p.pm2_env.status} after ${p.pm2_env.restart_time} restarts: pm2 logs ${o.processName}`, values };
  const span = minutes(Math.min(window?.sinceMs ?? 0, o.crashLoopWindowMin * 60_000) || o.crashLoopWindowMin * 60_000);
  if (inWindow >= o.crashLoopRestarts) {
    return { status: 'critical', message: `crash loop: PM2 restarted ${o.processName} ${inWindow} times in the last ${span} (critical at ${o.crashLoopRestarts} within ${o.crashLoopWindowMin} min); every restart drops every call: its error log says why (RUNBOOK.md#pm2)`, values };
  }
  return { status: 'ok', message: `PM2 process ${o.processName} online, ${inWindow} restart${inWindow === 1 ? '' : 's'} in the last ${span}, ${p.pm2_env.restart_time} in total`, values };
}

/** PM2 process state and its crash-loop rate, from `pm2 jlist`; not applicable where PM2 is not installed. */
export class Pm2Check implements Check {
  readonly name = 'pm2';
  readonly targets: string[];
  private samples: RestartSample[] = [];
  private lastName: string | undefined;

  constructor(private readonly o: Pm2Options, private readonly pm2Bin = 'pm2', private readonly now: () => number = Date.now) {
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
    const list = JSON.parse(stdout.slice(stdout.indexOf('['))) as Pm2Process[];
    const port = livePort(this.o.slots?.upstreamFile);
    const slot = port === undefined ? undefined : this.o.slots?.processes[String(port)];
    // A host deployed before slots runs processName until its first slot deploy.
    const o = { ...this.o, processName: slot !== undefined && (list.some((x) => x.name === slot) || !list.some((x) => x.name === this.o.processName)) ? slot : this.o.processName };
    // Another slot's process means another release: its restart history is not this one's.
    if (o.processName !== this.lastName) this.samples = [];
    this.lastName = o.processName;
    const p = list.find((x) => x.name === o.processName);
    let window: { restarts: number; sinceMs: number } | undefined;
    if (p !== undefined) {
      const marker = readDeployMarker(this.o.deployMarker);
      const w = restartsInWindow(this.samples, { at: this.now(), restarts: p.pm2_env.restart_time }, this.o.crashLoopWindowMin * 60_000, marker === undefined ? undefined : Date.parse(marker.until));
      this.samples = w.samples;
      window = w;
    }
    return [{ check: this.name, target: this.o.processName, ...gradePm2(o, list, window) }];
  }
}
