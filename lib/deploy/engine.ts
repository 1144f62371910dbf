import { sendOperatorAlert } from '../alerting/operator-alert.js';
import type { Outcome } from '../checks/result.js';
import type { HostSecrets, ResolvedHost } from '../inventory/index.js';
import type { DeploySlot } from '../inventory/resolve.js';
import { releaseDir, sshTo } from '../host/index.js';
import { recordError, Stop, type PhaseReport, type Progress } from '../report/phases.js';
import type { Connect, Runner } from '../runner/runner.js';
import type { Artifact } from './artifact.js';
import { logOffsets, refuseNew, restore } from './failure.js';
import { gate, watch } from './gate.js';
import { readState } from './host-state.js';
import { repairKilled } from './repair.js';
import type { Interrupt } from './interrupt.js';
import { LockError } from './lock.js';
import { checkConfig, newRelease, oldRelease, startRelease } from './prepare.js';
import { drainOld, prune, stopProcs } from './retire.js';
import { Run } from './run.js';
import { save, switchTo } from './switch.js';

export type DeployStatus = 'ok' | 'rolled-back' | 'failed' | 'refused';

export interface DeployReport {
  host: string;
  action: 'deploy' | 'rollback';
  /** ok: the release serves and passed the gate; rolled-back: it failed and the previous release serves again;
   *  failed: something failed and nothing could be restored (or nothing changed but an error stopped it);
   *  refused: stopped before anything started (lock, disk, bad config). */
  status: DeployStatus;
  release?: string;
  /** What `current` pointed at before. */
  from?: string;
  /** What `current` points at now. */
  serving?: string;
  phases: PhaseReport[];
  error?: string;
  hint?: string;
  /** The failing check's response (never a secret). */
  check?: unknown;
  /** What the failed release logged. */
  logs?: string[];
  pruned: string[];
  ms: number;
  /** The signal that interrupted the deploy (it then finished its decision: see Interrupt). */
  interrupted?: string;
  /** The deploy's own alert (Slack, webhook) could not be sent: why. */
  alertError?: string;
  /** It broke a killed deploy's lock (--force-unlock): what it found and repaired first (repair.ts). */
  repaired?: string;
}

export interface Timing {
  gateTimeoutMs: number;
  watchMs: number;
  drainWaitMs: number;
  /** Interval of the watch period's and the drain wait's checks. */
  pollMs: number;
}

export interface DeployOptions {
  action: 'deploy' | 'rollback';
  /** deploy: the release to ship. */
  artifact?: Artifact;
  /** deploy: the id to give it (default: now + its sha); a restore puts a release back under the id it had. */
  releaseId?: string;
  /** rollback: the release to return to (default: the previous one). */
  to?: string;
  /** Switch without waiting for calls to end. */
  now?: boolean;
  /** rollback: watch the release even when it served before (a release that never served is always watched). */
  watch?: boolean;
  forceUnlock?: boolean;
  /** Where the signaling probe connects (instead of DNS) and an extra CA it trusts. */
  probe?: { address?: string | undefined; ca?: Buffer | undefined };
  timing?: Partial<Timing>;
  onProgress?: Progress;
  /** How to reach the host (default: SSH as the inventory says); called twice, the second connection holds the lock. */
  connect?: Connect;
  /** Signals (Ctrl-C): the deploy finishes its decision, then stops (see Interrupt). */
  interrupt?: Interrupt;
  /** The gate's call through a slot (default: callThroughSlot, a real one from this machine); a test's stand-in. */
  call?: (slot: DeploySlot, runner: Runner) => Promise<Outcome[]>;
}

export function timingOf(host: ResolvedHost, override: Partial<Timing> = {}): Timing {
  return {
    gateTimeoutMs: host.deploy.gateTimeoutSec * 1000,
    watchMs: host.deploy.watchSec * 1000,
    drainWaitMs: host.deploy.drainWaitSec * 1000,
    pollMs: 2000,
    ...override,
  };
}

/** The host's alert destinations (Slack): a deploy that failed or was rolled back. */
function alert(host: ResolvedHost, secrets: HostSecrets, report: DeployReport): Promise<void> {
  return sendOperatorAlert(host, secrets, {
    check: 'deploy', target: report.release ?? '?',
    message: `${report.action} ${report.status === 'rolled-back' ? 'rolled back' : 'failed'}: ${report.error ?? ''}${report.serving !== undefined ? ` — serving ${report.serving}` : ''}`,
  });
}

/**
 * Deploys a release to one host, or rolls it back, in one fixed order: lock → (upload → link) → config check →
 * start in the idle slot → gate on its own port → switch nginx (graceful reload) and `current` → watch → pm2 save →
 * the old slot's calls end (drain) → stop the old slot → audit → prune → unlock. A failed gate stops the new slot
 * (nginx never changed); a failed watch switches nginx back to the old slot, which still runs. A rollback is the
 * same path with an older release.
 */
export async function deployHost(host: ResolvedHost, secrets: HostSecrets, opts: DeployOptions): Promise<DeployReport> {
  const t0 = Date.now();
  const timing = timingOf(host, opts.timing);
  const connect = opts.connect ?? sshTo(host);
  let main: Runner | undefined;
  let holder: Runner | undefined;
  let run: Run | undefined;
  const fallback: DeployReport = { host: host.name, action: opts.action, status: 'failed', phases: [], pruned: [], ms: 0 };
  try {
    opts.onProgress?.({ host: host.name, phase: 'connect', state: 'start' });
    main = await connect();
    holder = await connect();
    run = new Run(host, secrets, opts, main, holder, timing);
    await runDeploy(run, t0);
  } catch (err) {
    const report = run?.report ?? fallback;
    report.status = err instanceof Stop ? (err.status as DeployStatus) : err instanceof LockError ? 'refused' : 'failed';
    recordError(report, err);
    if (err instanceof Stop && err.check !== undefined) report.check = err.check;
  } finally {
    if (opts.interrupt?.signal !== undefined) (run?.report ?? fallback).interrupted = opts.interrupt.signal;
    const report = run?.report ?? fallback;
    report.ms = Date.now() - t0;
    if (run !== undefined) {
      const locked = report.phases.some((p) => p.phase === 'lock' && p.status === 'ok');
      // Refusals by the lock are audited too: a stale lock is news for the next operator.
      const broke = run.brokeLock;
      await run.audit(broke !== undefined ? { brokeLock: broke } : {}).catch(() => undefined);
      if (locked) await run.releaseLock();
      if (report.status === 'rolled-back' || (report.status === 'failed' && locked)) {
        // The team is told by the alert; when it cannot be sent, the operator is told here instead.
        await alert(host, secrets, report).catch((e: unknown) => { report.alertError = (e as Error).message; });
      }
    }
    holder?.close();
    main?.close();
  }
  return run?.report ?? fallback;
}

async function runDeploy(run: Run, t0: number): Promise<void> {
  const { host, opts, report } = run;
  await run.takeLock();
  let state = await readState(run);
  // A killed deploy's lock, broken with --force-unlock: the host is put back in order first.
  let unverified: string | undefined;
  const killed = run.brokeLock;
  if (killed !== undefined) ({ state, unverified } = await repairKilled(run, killed, state));
  report.from = state.current;
  report.serving = state.current;
  const id = opts.action === 'deploy' ? await newRelease(run, state) : await oldRelease(run, state);
  run.intent({ release: id, from: state.current, previous: state.previous, live: state.live.name, idle: state.idle.name });

  const { live, idle } = state;
  // What ran before, but the idle slot's leftovers: stopped once the new release serves.
  const old = state.procs.filter((p) => p.name !== idle.pm2Name).map((p) => p.name);
  await checkConfig(run, id, idle);
  run.stopIfInterrupted(`before ${id} started: nothing was switched`, 'refused');
  const offsets = await logOffsets(run);
  await run.markDeploy(id);
  try {
    let baseline: { pid: number; restarts: number };
    try {
      const running = state.procs.find((p) => p.name === idle.pm2Name && p.status === 'online' && p.cwd === releaseDir(host, id));
      // Back to a release the idle slot still runs (its drain was cut short): a switch back, no restart.
      if (running !== undefined) run.skip('start', `slot ${idle.name} still runs ${id} (${running.name}, pid ${running.pid ?? '?'}): no restart`);
      else await startRelease(run, id, idle, state.memAvailableKb);
      baseline = await gate(run, id, idle, 'gate', { withCall: true });
      run.stopIfInterrupted(`after the gate of ${id}, before the switch: no caller reached it`);
    } catch (err) {
      await refuseNew(run, id, state, offsets, err as Error);
      return;
    }
    // `previous` is the release that served and passed before: not a killed deploy's release that nothing verified.
    await switchTo(run, id, idle, state.current !== undefined && state.current === unverified ? state.previous : state.current);
    report.serving = id;
    const served = state.releases.find((r) => r.id === id)?.served;
    try {
      // A rollback to a release that served before (kept after its own gate and watch) is not watched again, unless asked.
      if (opts.action === 'rollback' && served !== undefined && opts.watch !== true) run.skip('watch', `${id} served before (kept ${served}) and passed the gate now: no watch (--watch to watch it)`);
      else await watch(run, id, idle, baseline);
    } catch (err) {
      await restore(run, id, state, offsets, err as Error);
      return;
    }
    await save(run, id, served);
    await drainOld(run, live, old);
    await stopProcs(run, old, 'stop old', 'nothing ran before');
  } finally {
    await run.markDeploy(id, true);
  }
  report.status = 'ok';
  report.ms = Date.now() - t0;
  await prune(run, [id, state.current]);
}
