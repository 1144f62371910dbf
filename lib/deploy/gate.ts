import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Outcome } from '../checks/result.js';
import type { DeploySlot } from '../inventory/resolve.js';
import { releaseDir } from '../host/index.js';
import { secs, Stop } from '../report/phases.js';
import type { Runner } from '../runner/runner.js';
import { sleep, type Run } from './run.js';
import { probeSignaling } from './signaling-probe.js';
import { callThroughSlot, callVerdict, gateCallPaths } from './slot-call.js';
import { pm2RestartLogScript, restartCause, slotMediaPorts, slotProbeScript, slotSignalingArgv, slotSignalingProgram } from './slots.js';

/** What a slot's loopback probe (slotProbeScript) answers. */
interface LoopbackProbe {
  pm2: { pid?: number; id?: number; status?: string; restarts?: number };
  cwd: string;
  healthz: { code: number; body: string };
  readyz: { code: number; body: string };
}

interface CheckFailure {
  check: string;
  message: string;
  response?: unknown;
  /** No point retrying (PM2 gave up on the process). */
  fatal?: boolean;
}

async function loopback(run: Run, slot: DeploySlot, pm2Name: string): Promise<LoopbackProbe> {
  const r = await run.main.script(slotProbeScript(run.host, slot, pm2Name), { root: true, summary: 'loopback health' });
  return JSON.parse(r.stdout) as LoopbackProbe;
}

/** A signaling round trip straight to the slot's port, run on the host; the answer names the ICE candidates' ports. */
async function slotSignaling(run: Run, id: string, slot: DeploySlot): Promise<{ ok: boolean; error?: string; ports?: number[] }> {
  const room = `rtcops-deploy-${randomBytes(4).toString('hex')}`;
  const token = jwt.sign({ sub: `rtcops-deploy-${randomBytes(3).toString('hex')}`, room }, run.secrets.jwtSecret.reveal(), { algorithm: 'HS256', expiresIn: 120 });
  const r = await run.main.exec(slotSignalingArgv(run.host, id), { root: true, allowFailure: true, stdin: slotSignalingProgram(`ws://127.0.0.1:${slot.port}/signaling`, token, 5000), summary: `signaling round trip on slot ${slot.name}` });
  try {
    return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { ok: boolean; error?: string; ports?: number[] };
  } catch {
    return { ok: false, error: `the probe did not run (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300)}` };
  }
}

/** One round of the checks on one slot; undefined when all passed. throughNginx: signaling through nginx as well (after the switch). */
async function checkOnce(run: Run, id: string, slot: DeploySlot, o: { pm2Name?: string; baseline?: { pid: number; restarts: number }; throughNginx?: boolean } = {}): Promise<{ failure?: CheckFailure; probe: LoopbackProbe }> {
  const p = await loopback(run, slot, o.pm2Name ?? slot.pm2Name);
  const fail = (f: CheckFailure) => ({ failure: f, probe: p });
  const st = p.pm2.status ?? 'absent';
  const baseline = o.baseline;
  if (st === 'errored' || st === 'stopped') return fail({ check: 'pm2', message: `PM2 reports the app errored after ${p.pm2.restarts ?? '?'} restart(s)${st === 'stopped' ? ' (stopped)' : ''}`, response: p.pm2, fatal: true });
  if (st !== 'online') return fail({ check: 'pm2', message: `PM2 reports the app ${st}`, response: p.pm2 });
  if (baseline !== undefined && (p.pm2.pid !== baseline.pid || (p.pm2.restarts ?? 0) !== baseline.restarts)) {
    const why = p.pm2.id === undefined ? undefined
      : restartCause((await run.main.script(pm2RestartLogScript(run.host, p.pm2.id, o.pm2Name ?? slot.pm2Name), { root: true, allowFailure: true, summary: 'read why PM2 restarted it' })).stdout.split('\n'));
    return fail({ check: 'pm2', message: `PM2 restarted the app during the watch period (restarts ${baseline.restarts} → ${p.pm2.restarts ?? '?'})${why !== undefined ? `: ${why}` : ''}`, response: p.pm2, fatal: true });
  }
  if (p.cwd !== releaseDir(run.host, id)) return fail({ check: 'release', message: `the app runs from ${p.cwd || '(unknown)'}, not from release ${id}`, response: { cwd: p.cwd } });
  if (p.healthz.code !== 200) return fail({ check: 'healthz', message: `/healthz answered ${p.healthz.code || 'nothing'}`, response: p.healthz });
  if (p.readyz.code !== 200) return fail({ check: 'readyz', message: `/readyz answered ${p.readyz.code || 'nothing'}${p.readyz.body ? `: ${p.readyz.body}` : ''}`, response: p.readyz });
  const direct = await slotSignaling(run, id, slot);
  if (!direct.ok) return fail({ check: 'signaling', message: `signaling on slot ${slot.name} (127.0.0.1:${slot.port}) failed at ${direct.error ?? '?'}`, response: { error: direct.error } });
  const plan = slotMediaPorts(run.host, slot);
  const outside = (direct.ports ?? []).filter((port) => port < plan.min || port > plan.max);
  if (outside.length > 0) {
    return fail({ check: 'media', message: `ICE candidates on port(s) ${[...new Set(outside)].join(', ')}, outside slot ${slot.name}'s media ports ${plan.min}-${plan.max} (what the firewall opens for it)`, response: { ports: direct.ports }, fatal: true });
  }
  if (o.throughNginx !== true) return { probe: p };
  const domain = run.host.app.domains[0] ?? '';
  const s = await probeSignaling({ url: `wss://${domain}/signaling`, jwtSecret: run.secrets.jwtSecret.reveal(), timeoutMs: 5000, address: run.opts.probe?.address, ca: run.opts.probe?.ca });
  if (!s.ok) return fail({ check: 'signaling', message: `signaling through wss://${domain}/signaling failed at ${s.error ?? '?'}${s.certificate === true ? ' (the certificate is not trusted)' : ''}`, response: { error: s.error }, fatal: s.certificate === true });
  return { probe: p };
}

/** The gate's call through the slot (slot-call.ts): a failure names the path and the step, as a CheckFailure. */
async function callOnce(run: Run, slot: DeploySlot, phase: string): Promise<{ failure?: CheckFailure; detail: string }> {
  const paths = gateCallPaths(run.host);
  run.opts.onProgress?.({ host: run.host.name, phase, state: 'start', detail: `a call through slot ${slot.name}: audio published and received back, ${paths.join(', ')}` });
  const call = run.opts.call ?? ((s: DeploySlot, runner: Runner) => callThroughSlot(runner, run.host, s, {
    jwtSecret: run.secrets.jwtSecret.reveal(), turnSecret: run.secrets.turnSecret.reveal(), address: run.opts.probe?.address, ca: run.opts.probe?.ca?.toString(),
  }));
  let outcomes: Outcome[];
  try {
    outcomes = await call(slot, run.main);
  } catch (err) {
    return { failure: { check: 'call', message: `a call through slot ${slot.name} did not run: ${(err as Error).message}` }, detail: '' };
  }
  const v = callVerdict(slot, paths, outcomes);
  if (!v.ok) return { failure: { check: 'call', message: v.detail, response: outcomes.map((x) => ({ path: x.target, status: x.status, message: x.message, values: x.values })) }, detail: v.detail };
  return { detail: v.detail };
}

/**
 * The gate, on the slot's own port before any caller reaches it: every check passes within the deadline (retried
 * with backoff); then (withCall) a real call through the slot, retried the same way. A call already under way when
 * the deadline passes is waited for.
 */
export async function gate(run: Run, id: string, slot: DeploySlot, phase = 'gate', o: { pm2Name?: string; withCall?: boolean } = {}): Promise<{ pid: number; restarts: number }> {
  return run.phase(phase, async () => {
    const t0 = Date.now();
    const deadline = t0 + run.timing.gateTimeoutMs;
    let delay = 250;
    let tries = 0;
    // Only the new release's own gate gives way to a signal; verifying the previous one after a switch back does not.
    const interruptible = phase === 'gate';
    for (;;) {
      if (interruptible) run.stopIfInterrupted(`during the gate of ${id} (slot ${slot.name}), before any caller reached it`);
      tries++;
      const round = await checkOnce(run, id, slot, o.pm2Name !== undefined ? { pm2Name: o.pm2Name } : {});
      const probe = round.probe;
      let failure = round.failure;
      let call = '';
      if (failure === undefined && o.withCall === true) {
        run.opts.onProgress?.({ host: run.host.name, phase, state: 'start', detail: `healthz, readyz and signaling passed on slot ${slot.name} (try ${tries})` });
        ({ failure, detail: call } = await callOnce(run, slot, phase));
      }
      if (failure === undefined) {
        return { value: { pid: probe.pm2.pid ?? 0, restarts: probe.pm2.restarts ?? 0 }, detail: `healthz, readyz${o.withCall === true ? ', signaling and a call' : ' and signaling'} passed on slot ${slot.name} (port ${slot.port}) in ${secs(Date.now() - t0)} (${tries} tr${tries === 1 ? 'y' : 'ies'})${call === '' ? '' : `: ${call}`}` };
      }
      if (failure.fatal === true || Date.now() + delay > deadline) {
        throw new Stop('failed', `health gate failed for ${id}: ${failure.message}${failure.fatal === true ? '' : ` (still failing after ${secs(Date.now() - t0)})`}`, undefined, { check: failure.check, response: failure.response });
      }
      if (failure.check === 'call') run.opts.onProgress?.({ host: run.host.name, phase, state: 'start', detail: `${failure.message}; trying again` });
      await (interruptible ? run.pause(delay) : sleep(delay));
      delay = Math.min(delay * 2, 4000);
    }
  });
}

/** The watch period, callers on it: the same checks, signaling through nginx too, and PM2 does not restart the process. */
export async function watch(run: Run, id: string, slot: DeploySlot, baseline: { pid: number; restarts: number }): Promise<void> {
  if (run.timing.watchMs <= 0) return run.skip('watch', 'no watch period');
  await run.phase('watch', async () => {
    const end = Date.now() + run.timing.watchMs;
    let rounds = 0;
    const t0 = Date.now();
    while (Date.now() < end) {
      await run.pause(Math.min(run.timing.pollMs, Math.max(0, end - Date.now())));
      run.stopIfInterrupted(`during the watch of ${id}, ${secs(Date.now() - t0)} into ${secs(run.timing.watchMs)}: not kept, since it was not watched for the full period`);
      rounds++;
      const { failure } = await checkOnce(run, id, slot, { baseline, throughNginx: true });
      if (failure !== undefined) throw new Stop('failed', `watch period failed for ${id}: ${failure.message}`, undefined, { check: failure.check, response: failure.response });
    }
    return { value: undefined, detail: `${rounds} round(s) over ${secs(run.timing.watchMs)}, no restart` };
  });
}
