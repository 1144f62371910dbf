import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import jwt from 'jsonwebtoken';
import { sendOperatorAlert } from '../alerting/operator-alert.js';
import type { DeployMarker } from '../alerting/deploy-marker.js';
import type { Outcome } from '../checks/result.js';
import type { HostSecrets, ResolvedHost } from '../inventory/index.js';
import type { DeploySlot } from '../inventory/resolve.js';
import { auditScript, DEPLOY_LOG, layoutOf, operator as by, releaseDir, sshTo } from '../host/index.js';
import { Phases, recordError, secs, Stop, type PhaseReport, type Progress } from '../report/phases.js';
import { sh } from '../runner/quote.js';
import type { Connect, Runner } from '../runner/runner.js';
import type { Artifact } from './artifact.js';
import {
  checkConfigScript, deployMarkerScript, linkSharedScript, logSizesScript, logsSinceScript, markFailedScript, markServedScript, pruneScript,
  receiveArgv, stateScript, switchScript,
} from './commands.js';
import {
  linkSlotScript, otherSlot, pm2SaveScript, slotMediaPorts, slotOfPort, slotProbeScript, slotSignalingArgv, slotSignalingProgram, slotStateScript,
  slotStatusArgv, startSlotScript, stopProcsScript, switchUpstreamScript,
} from './slots.js';
import { acquireLock, LockError, type HeldLock } from './lock.js';
import { releaseId, releasesToPrune, rollbackTarget, type HostReleases } from './release.js';
import { probeSignaling } from './signaling-probe.js';
import { Interrupted, type Interrupt } from './interrupt.js';
import { callThroughSlot, callVerdict, gateCallPaths } from './slot-call.js';

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

interface LoopbackProbe {
  pm2: { pid?: number; status?: string; restarts?: number };
  cwd: string;
  healthz: { code: number; body: string };
  readyz: { code: number; body: string };
}

interface SlotProc { name: string; pid?: number; status?: string; restarts?: number; cwd: string }

interface HostState extends HostReleases {
  freeKb: number;
  /** MemAvailable: two releases run at once until the old one stops. */
  memAvailableKb: number | undefined;
  /** The slot nginx sends callers to, and the one the new release starts in. */
  live: DeploySlot;
  idle: DeploySlot;
  /** PM2's processes of this app: the slots' and a pre-slot host's single one. */
  procs: SlotProc[];
  /** The process serving behind nginx now, when one runs. */
  serving: SlotProc | undefined;
}

interface CheckFailure {
  check: string;
  message: string;
  response?: unknown;
  /** No point retrying (PM2 gave up on the process). */
  fatal?: boolean;
}

/** A PM2 size (1G, 512M, 300K) in bytes. */
function parseSize(size: string): number | undefined {
  const m = /^(\d+)([KMG]?)$/i.exec(size.trim());
  return m === null ? undefined : Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] ?? '').toUpperCase() || ' ');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Rooms the health daemon's and the deploy's own probes open are not calls. */
const isProbeRoom = (room: string) => room.startsWith('rtcops-health-') || room.startsWith('rtcops-deploy-');

class Run {
  readonly report: DeployReport;
  private readonly phases: Phases;
  private lock: HeldLock | undefined;
  /** When this run first wrote the deploy marker. */
  private deployFrom: string | undefined;

  constructor(readonly host: ResolvedHost, readonly secrets: HostSecrets, readonly opts: DeployOptions, readonly main: Runner, private readonly holder: Runner, readonly timing: Timing) {
    // The lock's record names the phase that holds it.
    this.phases = new Phases(host.name, opts.onProgress, async (phase) => this.lock?.phase(phase));
    this.report = { host: host.name, action: opts.action, status: 'ok', phases: this.phases.list, pruned: [], ms: 0 };
  }

  phase<T>(name: string, fn: () => Promise<T | { value: T; detail: string }>): Promise<T> {
    return this.phases.run(name, fn);
  }

  skip(name: string, detail: string): void {
    this.phases.skip(name, detail);
  }

  /** Waits, or less when a signal arrives (the drain, which goes on after the first one: the second). */
  pause(ms: number, wakeAt = 1): Promise<void> {
    return this.opts.interrupt?.sleep(ms, wakeAt) ?? sleep(ms);
  }

  /** A signal arrived: stop here, before `what`, with the outcome the caller decides (see runDeploy). */
  stopIfInterrupted(what: string, status: 'failed' | 'refused' = 'failed'): void {
    const i = this.opts.interrupt;
    if (i?.signal !== undefined) throw new Interrupted(i.signal, `interrupted by ${i.signal} ${what}`, status);
  }

  async takeLock(): Promise<void> {
    this.lock = await this.phase('lock', async () => {
      const l = await acquireLock(this.main, this.holder, this.host, { by: by(), action: this.opts.action, force: this.opts.forceUnlock === true });
      return { value: l, detail: l.broke !== undefined ? `broke a stale lock (${l.broke.action ?? 'deploy'} by ${l.broke.by ?? '?'} at ${l.broke.at ?? '?'}, phase ${l.broke.phase ?? '?'})` : 'taken' };
    });
  }

  async releaseLock(): Promise<void> {
    await this.lock?.release().catch(() => undefined);
  }

  get brokeLock() {
    return this.lock?.broke;
  }

  async state(): Promise<HostState> {
    return this.phase('state', async () => {
      const r = await this.main.script(stateScript(this.host), { root: true, summary: 'read the releases' });
      const s = JSON.parse(r.stdout) as HostReleases & { freeKb: number; missing: string[]; current: string | undefined; previous: string | undefined };
      if (s.missing.length > 0) {
        throw new Stop('refused', `${this.host.name} is not ready for deploys: missing ${s.missing.join(', ')}`, `provision it first: npx zx scripts/provision.mjs ${this.host.name}`);
      }
      const q = await this.main.script(slotStateScript(this.host), { root: true, summary: 'read the deploy slots' });
      const slots = JSON.parse(q.stdout) as { port: number | null; procs: SlotProc[]; memAvailableKb?: number | null };
      const live = slotOfPort(this.host, slots.port ?? undefined);
      if (live === undefined) {
        throw new Stop('refused', `${this.host.name}'s nginx upstream ${this.host.nginx.upstreamFile} names ${slots.port === null ? 'no port (missing)' : `port ${slots.port}`}, not a deploy slot's (${this.host.app.slots.a.port}, ${this.host.app.slots.b.port})`,
          `provision it (npx zx scripts/provision.mjs ${this.host.name} --only config) to create it`);
      }
      const idle = otherSlot(this.host, live.name);
      const running = slots.procs.filter((p) => p.name !== idle.pm2Name && p.status === 'online');
      const state: HostState = { releases: s.releases, current: s.current ?? undefined, previous: s.previous ?? undefined, freeKb: s.freeKb, memAvailableKb: slots.memAvailableKb ?? undefined, live, idle, procs: slots.procs, serving: running.find((p) => p.name === live.pm2Name) ?? running.find((p) => p.name === this.host.app.name && live.name === 'a') };
      return { value: state, detail: `${state.releases.length} release(s), current ${state.current ?? '(none)'}; nginx → slot ${live.name}${state.serving !== undefined ? ` (${state.serving.name} online)` : ' (nothing running there)'}, the new release goes to slot ${idle.name}` };
    });
  }

  async upload(artifact: Artifact, id: string, freeKb: number): Promise<void> {
    const needKb = Math.ceil((artifact.unpackedBytes + artifact.bytes) / 1024) + 64 * 1024;
    await this.phase('disk', async () => {
      if (freeKb < needKb) {
        throw new Stop('refused', `not enough free disk on ${this.host.name} for the release: it needs ${Math.ceil(needKb / 1024)} MB in ${this.host.app.releasesDir}, ${Math.floor(freeKb / 1024)} MB are free`,
          `free space on the host, or keep fewer releases (deploy.keepReleases, now ${this.host.deploy.keepReleases})`);
      }
      return { value: undefined, detail: `${Math.floor(freeKb / 1024)} MB free, ${Math.ceil(needKb / 1024)} MB needed` };
    });
    await this.phase('upload', async () => {
      const meta = { id, sha: artifact.sha, ref: artifact.ref, builtAt: artifact.builtAt, uploadedAt: new Date().toISOString(), uploadedBy: by() };
      await this.main.exec(receiveArgv(this.host, id, meta), { root: true, stdin: readFileSync(artifact.file), summary: `unpack release ${id}` });
      return { value: undefined, detail: `${id} (${(artifact.bytes / 1048576).toFixed(1)} MB${artifact.cached ? ', cached build' : ''})` };
    });
    await this.phase('link', async () => {
      await this.main.script(linkSharedScript(this.host, id), { root: true, summary: 'link shared files' });
      return { value: undefined, detail: 'env file, logs' };
    });
  }

  async checkConfig(id: string, slot: DeploySlot): Promise<void> {
    await this.phase('check-config', async () => {
      const r = await this.main.script(checkConfigScript(this.host, id, slot), { root: true, allowFailure: true, summary: 'check the config' });
      if (r.code !== 0) {
        const out = `${r.stderr}\n${r.stdout}`.trim();
        await this.main.script(markFailedScript(this.host, id, `config check: ${out}`), { root: true, allowFailure: true, summary: 'mark the release failed' });
        throw new Stop('refused', `release ${id} refused its configuration (nothing was switched): ${out.split('\n').slice(-3).join(' ')}`,
          'fix the inventory (then provision) or the release, and deploy again', { check: 'config', exit: r.code, output: out.slice(-500) });
      }
      return { value: undefined, detail: r.stdout.trim().split('\n').at(-1) ?? 'ok' };
    });
  }

  /** The new release in the idle slot, beside the one that serves: its link, then its own PM2 process. */
  async start(id: string, slot: DeploySlot, memAvailableKb: number | undefined): Promise<void> {
    await this.phase('start', async () => {
      const limit = parseSize(this.host.pm2.maxMemoryRestart);
      const mem = memAvailableKb === undefined ? '' : `; ${Math.floor(memAvailableKb / 1024)} MB memory available${limit !== undefined && memAvailableKb * 1024 < limit ? ` (less than pm2.maxMemoryRestart ${this.host.pm2.maxMemoryRestart}: two releases run at once until the old one stops)` : ''}`;
      await this.main.script(linkSlotScript(this.host, slot, id), { root: true, summary: `link slot ${slot.name} to ${id}` });
      const r = await this.main.script(startSlotScript(this.host, slot), { root: true, allowFailure: true, summary: `pm2 start ${slot.pm2Name}` });
      // A release that never signals ready still gets here; the gate decides.
      const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').filter((l) => l.trim() !== '').slice(-1)[0] ?? '';
      return { value: undefined, detail: `slot ${slot.name} (port ${slot.port}): ${r.code === 0 ? `${slot.pm2Name} started` : `pm2 exited ${r.code}: ${tail.slice(0, 200)}`}${mem}` };
    });
  }

  /**
   * After the switch: the old slot keeps its calls (its own process, media ports and the old nginx workers' sockets)
   * until they end or drainWaitMs passes; --now stops it at once.
   */
  async drainOld(old: DeploySlot, procs: string[]): Promise<void> {
    if (procs.length === 0) return this.phases.skip('drain', 'nothing ran before');
    if (this.opts.now === true) return this.phases.skip('drain', '--now: stopping the old release without waiting for its calls');
    await this.phase('drain', async () => {
      const t0 = Date.now();
      let last = '';
      let told = false;
      for (;;) {
        const i = this.opts.interrupt;
        if (i !== undefined && i.count >= 2) return { value: undefined, detail: `cut short by a second ${i.signal ?? 'signal'} after ${secs(Date.now() - t0)}: stopping the old release (its peers get serverDraining and reconnect to the new one)` };
        if (i?.requested === true && !told) {
          told = true;
          this.opts.onProgress?.({ host: this.host.name, phase: 'drain', state: 'start', detail: `${i.signal ?? 'a signal'}: the new release is kept (it passed the gate and the watch); the old release's calls may end first, up to ${secs(Math.max(0, this.timing.drainWaitMs - (Date.now() - t0)))} — send it again to stop it now` });
        }
        const r = await this.main.exec(slotStatusArgv(old), { root: true, allowFailure: true, stdin: `Authorization: Bearer ${this.secrets.adminToken.reveal()}\n`, summary: 'read /status' });
        if (r.code !== 0) return { value: undefined, detail: `/status of the old release did not answer (curl exit ${r.code}): no calls to wait for` };
        const status = JSON.parse(r.stdout) as { roomList?: { room: string; peers: number }[] };
        const rooms = (status.roomList ?? []).filter((x) => !isProbeRoom(x.room));
        const peers = rooms.reduce((n, x) => n + x.peers, 0);
        if (rooms.length === 0) return { value: undefined, detail: Date.now() - t0 < 1000 ? 'no calls on the old release' : `the old release's calls ended after ${secs(Date.now() - t0)}` };
        const left = this.timing.drainWaitMs - (Date.now() - t0);
        if (left <= 0) {
          return { value: undefined, detail: `${rooms.length} room(s) with ${peers} peer(s) still in calls on the old release after ${secs(this.timing.drainWaitMs)}: stopping it (its peers get serverDraining and reconnect to the new one)` };
        }
        const line = `${rooms.length} room(s), ${peers} peer(s) in calls on the old release; waiting up to ${secs(left)} for them to end (new callers already go to the new one)`;
        if (line.split(';')[0] !== last) this.opts.onProgress?.({ host: this.host.name, phase: 'drain', state: 'start', detail: line });
        last = line.split(';')[0] ?? '';
        await this.pause(Math.min(this.timing.pollMs, left), 2);
      }
    });
  }

  /** Stops PM2 processes (SIGTERM, the server drains) and saves PM2's list without them. */
  async stopProcs(names: string[], phase: string, why: string): Promise<void> {
    if (names.length === 0) return this.phases.skip(phase, why);
    await this.phase(phase, async () => {
      const t0 = Date.now();
      await this.main.script(stopProcsScript(this.host, names), { root: true, summary: `pm2 delete ${names.join(' ')}` });
      const ms = Date.now() - t0;
      // PM2 sends SIGKILL at kill_timeout: a stop that took that long was a process deaf to SIGTERM (or a drain that hung).
      const killed = ms >= this.host.pm2.killTimeoutMs ? `: it did not exit within PM2's kill_timeout (${secs(this.host.pm2.killTimeoutMs)}) after SIGTERM, so PM2 killed it (SIGKILL)` : '';
      return { value: undefined, detail: `${names.join(', ')} stopped in ${secs(ms)}${killed}` };
    });
  }

  /** PM2's list saved once the release passed: a reboot starts what serves, never an unverified release. The release is marked as served. */
  async save(id: string, served: string | undefined): Promise<void> {
    await this.phase('save', async () => {
      const mark = served === undefined ? `\n${markServedScript(this.host, id, new Date().toISOString())}` : '';
      await this.main.script(`${pm2SaveScript(this.host)}${mark}`, { root: true, summary: 'pm2 save' });
      return { value: undefined, detail: 'pm2 save: a reboot starts this release' };
    });
  }

  async logOffsets(): Promise<number[]> {
    const r = await this.main.script(logSizesScript(this.host), { root: true, allowFailure: true, summary: 'measure the server logs' });
    return r.stdout.trim().split('\n').map(Number).map((n) => (Number.isFinite(n) ? n : 0));
  }

  /**
   * Tells the health daemon a deploy is restarting the app (its alerts wait, PM2's restarts are not a crash loop):
   * until the budget of a start, its gate, the watch and the old release's drain, then until now once done.
   */
  async markDeploy(id: string, done = false): Promise<void> {
    const t = this.timing;
    const from = this.deployFrom ?? new Date().toISOString();
    this.deployFrom = from;
    const until = new Date(Date.now() + (done ? 0 : 2 * t.gateTimeoutMs + t.watchMs + t.drainWaitMs + this.host.pm2.killTimeoutMs + 120_000)).toISOString();
    const marker: DeployMarker = { release: id, by: by(), from, until };
    await this.main.script(deployMarkerScript(this.host, marker), { root: true, allowFailure: true, summary: done ? 'end the deploy marker' : 'write the deploy marker' });
  }

  /** nginx to the slot (graceful reload), then `current` (and `previous`) to the release it runs. */
  async switchTo(id: string, slot: DeploySlot, previous: string | undefined, phase = 'switch'): Promise<void> {
    await this.phase(phase, async () => {
      await this.main.script(switchUpstreamScript(this.host, slot), { root: true, summary: `nginx to slot ${slot.name}` });
      await this.main.script(switchScript(this.host, id, previous), { root: true, summary: `switch current to ${id}` });
      return { value: undefined, detail: `nginx → slot ${slot.name} (port ${slot.port}), current → ${id}` };
    });
  }

  async loopback(slot: DeploySlot, pm2Name: string): Promise<LoopbackProbe> {
    const r = await this.main.script(slotProbeScript(this.host, slot, pm2Name), { root: true, summary: 'loopback health' });
    return JSON.parse(r.stdout) as LoopbackProbe;
  }

  /** A signaling round trip straight to the slot's port, run on the host; the answer names the ICE candidates' ports. */
  async slotSignaling(id: string, slot: DeploySlot): Promise<{ ok: boolean; error?: string; ports?: number[] }> {
    const room = `rtcops-deploy-${randomBytes(4).toString('hex')}`;
    const token = jwt.sign({ sub: `rtcops-deploy-${randomBytes(3).toString('hex')}`, room }, this.secrets.jwtSecret.reveal(), { algorithm: 'HS256', expiresIn: 120 });
    const r = await this.main.exec(slotSignalingArgv(this.host, id), { root: true, allowFailure: true, stdin: slotSignalingProgram(`ws://127.0.0.1:${slot.port}/signaling`, token, 5000), summary: `signaling round trip on slot ${slot.name}` });
    try {
      return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { ok: boolean; error?: string; ports?: number[] };
    } catch {
      return { ok: false, error: `the probe did not run (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300)}` };
    }
  }

  /** One round of the checks on one slot; undefined when all passed. throughNginx: signaling through nginx as well (after the switch). */
  async checkOnce(id: string, slot: DeploySlot, o: { pm2Name?: string; baseline?: { pid: number; restarts: number }; throughNginx?: boolean } = {}): Promise<{ failure?: CheckFailure; probe: LoopbackProbe }> {
    const p = await this.loopback(slot, o.pm2Name ?? slot.pm2Name);
    const fail = (f: CheckFailure) => ({ failure: f, probe: p });
    const st = p.pm2.status ?? 'absent';
    const baseline = o.baseline;
    if (st === 'errored' || st === 'stopped') return fail({ check: 'pm2', message: `PM2 reports the app errored after ${p.pm2.restarts ?? '?'} restart(s)${st === 'stopped' ? ' (stopped)' : ''}`, response: p.pm2, fatal: true });
    if (st !== 'online') return fail({ check: 'pm2', message: `PM2 reports the app ${st}`, response: p.pm2 });
    if (baseline !== undefined && (p.pm2.pid !== baseline.pid || (p.pm2.restarts ?? 0) !== baseline.restarts)) {
      return fail({ check: 'pm2', message: `PM2 restarted the app during the watch period (restarts ${baseline.restarts} → ${p.pm2.restarts ?? '?'})`, response: p.pm2, fatal: true });
    }
    if (p.cwd !== releaseDir(this.host, id)) return fail({ check: 'release', message: `the app runs from ${p.cwd || '(unknown)'}, not from release ${id}`, response: { cwd: p.cwd } });
    if (p.healthz.code !== 200) return fail({ check: 'healthz', message: `/healthz answered ${p.healthz.code || 'nothing'}`, response: p.healthz });
    if (p.readyz.code !== 200) return fail({ check: 'readyz', message: `/readyz answered ${p.readyz.code || 'nothing'}${p.readyz.body ? `: ${p.readyz.body}` : ''}`, response: p.readyz });
    const direct = await this.slotSignaling(id, slot);
    if (!direct.ok) return fail({ check: 'signaling', message: `signaling on slot ${slot.name} (127.0.0.1:${slot.port}) failed at ${direct.error ?? '?'}`, response: { error: direct.error } });
    const plan = slotMediaPorts(this.host, slot);
    const outside = (direct.ports ?? []).filter((port) => port < plan.min || port > plan.max);
    if (outside.length > 0) {
      return fail({ check: 'media', message: `ICE candidates on port(s) ${[...new Set(outside)].join(', ')}, outside slot ${slot.name}'s media ports ${plan.min}-${plan.max} (what the firewall opens for it)`, response: { ports: direct.ports }, fatal: true });
    }
    if (o.throughNginx !== true) return { probe: p };
    const domain = this.host.app.domains[0] ?? '';
    const s = await probeSignaling({ url: `wss://${domain}/signaling`, jwtSecret: this.secrets.jwtSecret.reveal(), timeoutMs: 5000, address: this.opts.probe?.address, ca: this.opts.probe?.ca });
    if (!s.ok) return fail({ check: 'signaling', message: `signaling through wss://${domain}/signaling failed at ${s.error ?? '?'}${s.certificate === true ? ' (the certificate is not trusted)' : ''}`, response: { error: s.error }, fatal: s.certificate === true });
    return { probe: p };
  }

  /** The gate's call through the slot (slot-call.ts): a failure names the path and the step, as a CheckFailure. */
  async callOnce(slot: DeploySlot, phase: string): Promise<{ failure?: CheckFailure; detail: string }> {
    const paths = gateCallPaths(this.host);
    this.opts.onProgress?.({ host: this.host.name, phase, state: 'start', detail: `a call through slot ${slot.name}: audio published and received back, ${paths.join(', ')}` });
    const call = this.opts.call ?? ((s: DeploySlot, runner: Runner) => callThroughSlot(runner, this.host, s, {
      jwtSecret: this.secrets.jwtSecret.reveal(), turnSecret: this.secrets.turnSecret.reveal(), address: this.opts.probe?.address, ca: this.opts.probe?.ca?.toString(),
    }));
    let outcomes: Outcome[];
    try {
      outcomes = await call(slot, this.main);
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
  async gate(id: string, slot: DeploySlot, phase = 'gate', o: { pm2Name?: string; withCall?: boolean } = {}): Promise<{ pid: number; restarts: number }> {
    return this.phase(phase, async () => {
      const t0 = Date.now();
      const deadline = t0 + this.timing.gateTimeoutMs;
      let delay = 250;
      let tries = 0;
      // Only the new release's own gate gives way to a signal; verifying the previous one after a switch back does not.
      const interruptible = phase === 'gate';
      for (;;) {
        if (interruptible) this.stopIfInterrupted(`during the gate of ${id} (slot ${slot.name}), before any caller reached it`);
        tries++;
        const round = await this.checkOnce(id, slot, o.pm2Name !== undefined ? { pm2Name: o.pm2Name } : {});
        const probe = round.probe;
        let failure = round.failure;
        let call = '';
        if (failure === undefined && o.withCall === true) {
          this.opts.onProgress?.({ host: this.host.name, phase, state: 'start', detail: `healthz, readyz and signaling passed on slot ${slot.name} (try ${tries})` });
          ({ failure, detail: call } = await this.callOnce(slot, phase));
        }
        if (failure === undefined) {
          return { value: { pid: probe.pm2.pid ?? 0, restarts: probe.pm2.restarts ?? 0 }, detail: `healthz, readyz${o.withCall === true ? ', signaling and a call' : ' and signaling'} passed on slot ${slot.name} (port ${slot.port}) in ${secs(Date.now() - t0)} (${tries} tr${tries === 1 ? 'y' : 'ies'})${call === '' ? '' : `: ${call}`}` };
        }
        if (failure.fatal === true || Date.now() + delay > deadline) {
          throw new Stop('failed', `health gate failed for ${id}: ${failure.message}${failure.fatal === true ? '' : ` (still failing after ${secs(Date.now() - t0)})`}`, undefined, { check: failure.check, response: failure.response });
        }
        if (failure.check === 'call') this.opts.onProgress?.({ host: this.host.name, phase, state: 'start', detail: `${failure.message}; trying again` });
        await (interruptible ? this.pause(delay) : sleep(delay));
        delay = Math.min(delay * 2, 4000);
      }
    });
  }

  /** The watch period, callers on it: the same checks, signaling through nginx too, and PM2 does not restart the process. */
  async watch(id: string, slot: DeploySlot, baseline: { pid: number; restarts: number }): Promise<void> {
    if (this.timing.watchMs <= 0) return this.phases.skip('watch', 'no watch period');
    await this.phase('watch', async () => {
      const end = Date.now() + this.timing.watchMs;
      let rounds = 0;
      const t0 = Date.now();
      while (Date.now() < end) {
        await this.pause(Math.min(this.timing.pollMs, Math.max(0, end - Date.now())));
        this.stopIfInterrupted(`during the watch of ${id}, ${secs(Date.now() - t0)} into ${secs(this.timing.watchMs)}: not kept, since it was not watched for the full period`);
        rounds++;
        const { failure } = await this.checkOnce(id, slot, { baseline, throughNginx: true });
        if (failure !== undefined) throw new Stop('failed', `watch period failed for ${id}: ${failure.message}`, undefined, { check: failure.check, response: failure.response });
      }
      return { value: undefined, detail: `${rounds} round(s) over ${secs(this.timing.watchMs)}, no restart` };
    });
  }

  async prune(protect: (string | undefined)[]): Promise<void> {
    await this.phase('prune', async () => {
      const r = await this.main.script(stateScript(this.host), { root: true, summary: 'read the releases' });
      const s = JSON.parse(r.stdout) as { releases: { id: string }[]; current: string | null; previous: string | null };
      const doomed = releasesToPrune(s.releases.map((x) => x.id), this.host.deploy.keepReleases, [...protect, s.current ?? undefined, s.previous ?? undefined]);
      await this.main.script(pruneScript(this.host, doomed), { root: true, summary: 'prune releases' });
      this.report.pruned = doomed;
      return { value: undefined, detail: doomed.length === 0 ? `${s.releases.length} release(s), none to delete` : `deleted ${doomed.join(', ')}` };
    });
  }

  async audit(extra: Record<string, unknown>): Promise<void> {
    const r = this.report;
    const record = {
      host: r.host, action: r.action, status: r.status, release: r.release, from: r.from, serving: r.serving, ms: r.ms,
      phase: r.phases.find((p) => p.status === 'failed')?.phase, error: r.error, check: r.check, logs: r.logs, pruned: r.pruned.length > 0 ? r.pruned : undefined, interrupted: r.interrupted, ...extra,
    };
    await this.main.script(auditScript(DEPLOY_LOG, record), { root: true, summary: 'write the deploy audit log' });
  }
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
  const state = await run.state();
  report.from = state.current;
  report.serving = state.current;

  let id: string;
  if (opts.action === 'deploy') {
    if (opts.artifact === undefined) throw new Error('deploy needs an artifact');
    id = opts.releaseId ?? releaseId(new Date(), opts.artifact.sha);
    report.release = id;
    await run.upload(opts.artifact, id, state.freeKb);
  } else {
    const target = opts.to ?? rollbackTarget(state);
    if (target === undefined) {
      const deploy = `npx zx scripts/deploy.mjs ${host.name}`;
      throw state.releases.length === 0
        ? new Stop('refused', `no release to roll back to on ${host.name}: nothing is deployed yet`, `deploy one first: ${deploy}`)
        : new Stop('refused', `no release to roll back to on ${host.name}: none older than the current one that did not fail (releases: ${state.releases.map((r) => r.id).join(', ')})`,
          `rollback returns to an earlier release, and after a first deploy there is none: deploy the next release with ${deploy} (rollback then returns to this one), or name one with --to <id> (scripts/releases.mjs lists them)`);
    }
    if (!state.releases.some((r) => r.id === target)) throw new Stop('refused', `no release ${target} on ${host.name}; releases: ${state.releases.map((r) => r.id).join(', ')}`, 'list them with scripts/releases.mjs');
    if (target === state.current) throw new Stop('refused', `${target} is already the current release on ${host.name}`);
    id = target;
    report.release = id;
    await run.phase('link', async () => {
      await run.main.script(linkSharedScript(host, id), { root: true, summary: 'link shared files' });
      return { value: undefined, detail: `back to ${id}` };
    });
  }

  const { live, idle } = state;
  // What ran before, but the idle slot's leftovers: stopped once the new release serves.
  const old = state.procs.filter((p) => p.name !== idle.pm2Name).map((p) => p.name);
  await run.checkConfig(id, idle);
  run.stopIfInterrupted(`before ${id} started: nothing was switched`, 'refused');
  const offsets = await run.logOffsets();
  await run.markDeploy(id);
  try {
    let baseline: { pid: number; restarts: number };
    try {
      const running = state.procs.find((p) => p.name === idle.pm2Name && p.status === 'online' && p.cwd === releaseDir(host, id));
      // Back to a release the idle slot still runs (its drain was cut short): a switch back, no restart.
      if (running !== undefined) run.skip('start', `slot ${idle.name} still runs ${id} (${running.name}, pid ${running.pid ?? '?'}): no restart`);
      else await run.start(id, idle, state.memAvailableKb);
      baseline = await run.gate(id, idle, 'gate', { withCall: true });
      run.stopIfInterrupted(`after the gate of ${id}, before the switch: no caller reached it`);
    } catch (err) {
      await refuseNew(run, id, state, offsets, err as Error);
      return;
    }
    await run.switchTo(id, idle, state.current);
    report.serving = id;
    const served = state.releases.find((r) => r.id === id)?.served;
    try {
      // A rollback to a release that served before (kept after its own gate and watch) is not watched again, unless asked.
      if (opts.action === 'rollback' && served !== undefined && opts.watch !== true) run.skip('watch', `${id} served before (kept ${served}) and passed the gate now: no watch (--watch to watch it)`);
      else await run.watch(id, idle, baseline);
    } catch (err) {
      await restore(run, id, state, offsets, err as Error);
      return;
    }
    await run.save(id, served);
    await run.drainOld(live, old);
    await run.stopProcs(old, 'stop old', 'nothing ran before');
  } finally {
    await run.markDeploy(id, true);
  }
  report.status = 'ok';
  report.ms = Date.now() - t0;
  await run.prune([id, state.current]);
}

/** A crash loop prints the same line over and over: keep one, with a count. */
export function collapseRepeats(lines: string[]): string[] {
  const out: { line: string; n: number }[] = [];
  for (const line of lines) {
    const last = out.at(-1);
    if (last?.line === line) last.n++;
    else out.push({ line, n: 1 });
  }
  return out.map((x) => (x.n > 1 ? `${x.line} (×${x.n})` : x.line));
}

/** What the failed release logged (its own lines, cut at the offsets taken before it started), and its mark. */
async function keepFailure(run: Run, failed: string, offsets: number[], cause: Error): Promise<void> {
  const { host, report } = run;
  report.error = cause.message;
  // An interrupted release did not fail: it stays a rollback target, and its logs are not a failure's.
  if (cause instanceof Interrupted) return;
  if (cause instanceof Stop && cause.check !== undefined) report.check = cause.check;
  const logs = await run.main.script(logsSinceScript(host, offsets), { root: true, allowFailure: true, summary: 'read what the release logged' });
  report.logs = collapseRepeats(logs.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l)));
  await run.main.script(markFailedScript(host, failed, cause.message), { root: true, allowFailure: true, summary: 'mark the release failed' });
}

/** The new release failed its gate in the idle slot: no caller ever reached it. Stop it; nginx and `current` never changed. */
async function refuseNew(run: Run, failed: string, state: HostState, offsets: number[], cause: Error): Promise<void> {
  await keepFailure(run, failed, offsets, cause);
  await run.stopProcs([state.idle.pm2Name], 'stop new', '').catch(() => undefined);
  if (state.serving === undefined || state.current === undefined) {
    throw new Stop('failed', `${cause.message}; nothing served before it, so the app is stopped`);
  }
  throw new Stop('rolled-back', `${cause.message}; nginx was never switched to it: ${state.current} kept serving (slot ${state.live.name})`,
    failureHint(run, cause), run.report.check);
}

/** The new release failed after the switch: nginx back to the old slot, which still runs (no restart), checked; then the new one stops. */
async function restore(run: Run, failed: string, state: HostState, offsets: number[], cause: Error): Promise<void> {
  const { host, report } = run;
  await keepFailure(run, failed, offsets, cause);
  if (state.serving === undefined || state.current === undefined) {
    await run.stopProcs([state.idle.pm2Name], 'stop new', '').catch(() => undefined);
    await run.main.script(sh`rm -f ${layoutOf(host).current}`, { root: true, allowFailure: true }).catch(() => undefined);
    report.serving = undefined;
    throw new Stop('failed', `${cause.message}; there was no previous release, so the app is stopped`);
  }
  try {
    await run.switchTo(state.current, state.live, state.previous, 'switch back');
    report.serving = state.current;
    // No call here: that release served callers until moments ago and still runs; a switch back must be quick.
    await run.gate(state.current, state.live, 'verify previous', { pm2Name: state.serving.name });
  } catch (err) {
    throw new Stop('failed', `${cause.message}; restoring ${state.current} also failed: ${(err as Error).message}`, `look at the host now: npx zx scripts/releases.mjs ${host.name}`);
  } finally {
    await run.stopProcs([state.idle.pm2Name], 'stop new', '').catch(() => undefined);
  }
  throw new Stop('rolled-back', `${cause.message}; ${state.current} (slot ${state.live.name}, still running) serves again and passed the health gate`, failureHint(run, cause), report.check);
}

function failureHint(run: Run, cause: Error): string {
  return cause instanceof Interrupted
    ? `nothing failed: deploy it again when it can run to the end (scripts/releases.mjs ${run.host.name} shows the host)`
    : `the failed release's output is in the audit log (${DEPLOY_LOG}) and scripts/releases.mjs ${run.host.name}`;
}
