// One sandbox's life: up (image, bridge, apt proxy, overlay, nspawn, SSH), down (undo all of it), status.
import fs from 'node:fs';
import path from 'node:path';
import { acmeAlive, acmeEndpoints, acmeProcesses, ensureAcmeCa, type SandboxAcme, startAcme, stopAcme } from './acme.js';
import { startProxy } from './apt-proxy.js';
import { SandboxAborted, SandboxConfigError, SandboxFailure } from './errors.js';
import { ensureImage, hostKeys, readStamp } from './image.js';
import { ACME_PORT, DEFAULT_NAME, defaultStateDir, GUEST_UID, layoutFor, nameProblem, PROXY_PORT, type SandboxLayout } from './layout.js';
import { bytesUsed, mountLayers, mountsUnder, removeTree, unmountAll } from './mounts.js';
import { bridgeDown, bridgeUp, chooseLayout, portOpen, probeArgvs, removeProbes, type Probe } from './network.js';
import { checkPrerequisites } from './prerequisites.js';
import {
  type Argv,
  containerProcesses,
  isAlive,
  processesMentioning,
  run,
  signalAll,
  spawnDetached,
  tail,
  terminate,
  waitForExit,
} from './processes.js';
import { type Progress, silentProgress } from './progress.js';
import { ensureSecretsFile } from './secrets.js';
import { type SshTarget, waitForSsh, writeKnownHosts } from './ssh.js';

export interface SandboxOptions {
  name?: string;
  stateDir?: string;
  progress?: Progress;
  signal?: AbortSignal;
  installDeps?: boolean;
  // Also run the sandbox's ACME server (pebble) on its bridge; default: only for the default sandbox, the one
  // inventory.yaml's acme settings point at (tests run their own pebble on their sandboxes' bridges).
  acme?: boolean;
}

export interface SandboxInfo extends SshTarget {
  name: string;
  hostAddress: string;
  stateDir: string;
  bridge: string;
  subnet: string;
  aptProxy: string;
}

export interface SandboxUpResult extends SandboxInfo {
  alreadyRunning: boolean;
  // The sandbox host's generated secrets (inventory.yaml's secrets.file for the default sandbox).
  secretsFile: string;
  acme?: SandboxAcme;
  imageBuilt: boolean;
  imageSeconds: number;
  bootSeconds: number;
  totalSeconds: number;
}

export interface SandboxStatus {
  name: string;
  stateDir: string;
  running: boolean;
  sshReady: boolean;
  info?: SandboxInfo;
  startedAt?: string;
  uptimeSeconds?: number;
  diskUsedBytes?: number;
  imageBytes?: number;
  imageCached: boolean;
  leftovers?: boolean;
  guestPid?: number;
  proxyPid?: number;
  acme?: SandboxAcme & { pebblePid?: number; challtestsrvPid?: number; answering: boolean };
}

export interface SandboxDownResult {
  name: string;
  wasRunning: boolean;
  removed: string[];
}

interface InstanceState {
  name: string;
  index: number;
  phase: 'starting' | 'running';
  startedAt?: string;
  guestPid?: number;
  proxyPid?: number;
  pebblePid?: number;
  challtestsrvPid?: number;
}

const BOOT_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 20_000;

// Restarts nspawn when the guest asks to reboot (exit 133) and forwards SIGTERM so the guest powers off cleanly.
const SUPERVISOR = `stop=0; child=
trap 'stop=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT HUP
while :; do
  "$@" & child=$!
  while :; do wait "$child"; rc=$?; kill -0 "$child" 2>/dev/null || break; done
  if [ "$stop" = 0 ] && [ "$rc" = 133 ]; then echo "rtcops-sandbox: guest rebooted, starting it again"; else exit "$rc"; fi
done`;

export function nspawnArgv(layout: SandboxLayout): Argv {
  return [
    'systemd-nspawn',
    '--boot',
    `--machine=${layout.name}`,
    `--directory=${layout.rootDir}`,
    `--network-bridge=${layout.bridge}`,
    // This machine's PID 1 may not be systemd: do not register with machined or create a scope unit.
    '--register=no',
    '--keep-unit',
    '--resolv-conf=off',
    '--timezone=off',
    '--link-journal=no',
    '--console=passive',
  ];
}

export function supervisorArgv(layout: SandboxLayout): Argv {
  return ['sh', '-c', SUPERVISOR, 'rtcops-sandbox', ...nspawnArgv(layout)];
}

// Files that make one boot of the shared image this instance: name, address, apt proxy, operator key.
export function guestFiles(layout: SandboxLayout, publicKey: string): { path: string; content: string; owner?: number; mode: number }[] {
  return [
    { path: 'etc/hostname', content: `${layout.name}\n`, mode: 0o644 },
    { path: 'etc/hosts', content: `127.0.0.1 localhost\n127.0.1.1 ${layout.name}\n::1 localhost ip6-localhost ip6-loopback\n`, mode: 0o644 },
    {
      path: 'etc/network/interfaces.d/host0',
      content: `auto host0\niface host0 inet static\n    address ${layout.address}/24\n`,
      mode: 0o644,
    },
    {
      path: 'etc/apt/apt.conf.d/01rtcops-sandbox-proxy',
      content: `Acquire::http::Proxy "http://${layout.hostAddress}:${PROXY_PORT}";\n`,
      mode: 0o644,
    },
    { path: `home/${layout.user}/.ssh/authorized_keys`, content: publicKey, owner: GUEST_UID, mode: 0o600 },
  ];
}

function resolveOptions(options: SandboxOptions): { name: string; stateDir: string; progress: Progress; acme: boolean } {
  const name = options.name ?? DEFAULT_NAME;
  const problem = nameProblem(name);
  if (problem) throw new SandboxConfigError(problem);
  return {
    name,
    stateDir: path.resolve(options.stateDir ?? defaultStateDir()),
    progress: options.progress ?? silentProgress,
    acme: options.acme ?? name === DEFAULT_NAME,
  };
}

function instanceDir(stateDir: string, name: string): string {
  return path.join(stateDir, 'instances', name);
}

function readState(stateDir: string, name: string): InstanceState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(instanceDir(stateDir, name), 'state.json'), 'utf8')) as InstanceState;
  } catch {
    return undefined;
  }
}

function writeState(layout: SandboxLayout, state: InstanceState): void {
  fs.mkdirSync(layout.instanceDir, { recursive: true });
  fs.writeFileSync(layout.statePath + '.tmp', JSON.stringify(state, null, 2) + '\n');
  fs.renameSync(layout.statePath + '.tmp', layout.statePath);
}

// Running means booted to SSH by an "up" that finished; a guest whose "up" died half-way is cleaned up, not reused.
function guestRunning(layout: SandboxLayout, state: InstanceState | undefined): boolean {
  return (
    state?.phase === 'running' &&
    state.guestPid !== undefined &&
    isAlive(state.guestPid) &&
    processesMentioning(layout.rootDir).includes(state.guestPid)
  );
}

export function infoFor(layout: SandboxLayout): SandboxInfo {
  return {
    name: layout.name,
    address: layout.address,
    hostAddress: layout.hostAddress,
    sshPort: layout.sshPort,
    user: layout.user,
    keyPath: layout.keyPath,
    knownHostsPath: layout.knownHostsPath,
    stateDir: layout.stateDir,
    bridge: layout.bridge,
    subnet: layout.subnet,
    aptProxy: `http://${layout.hostAddress}:${PROXY_PORT}`,
  };
}

// A pid file as a lock: a second command on the same sandbox waits for nobody and says who holds it.
async function withLock<T>(lockPath: string, what: string, work: () => Promise<T>): Promise<T> {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  for (;;) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(lockPath, 'utf8'));
      if (holder && holder !== process.pid && isAlive(holder)) {
        throw new SandboxConfigError(`another rtcops command (pid ${holder}) is working on ${what}; wait for it to finish`);
      }
      fs.rmSync(lockPath, { force: true });
    }
  }
  try {
    return await work();
  } finally {
    fs.rmSync(lockPath, { force: true });
  }
}

async function ensureOperatorKey(layout: SandboxLayout): Promise<string> {
  if (!fs.existsSync(layout.keyPath)) {
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'rtcops-sandbox-operator', '-f', layout.keyPath]);
  }
  return fs.readFileSync(layout.keyPath + '.pub', 'utf8');
}

// The CA is shared by every sandbox of the state directory: one "up" generates it, the others wait.
async function startAcmeFor(layout: SandboxLayout, state: InstanceState, progress: Progress, options: { keepRoots?: boolean } = {}): Promise<void> {
  const created = await withLock(path.join(layout.stateDir, '.acme-ca-lock'), 'the sandbox ACME CA', () => ensureAcmeCa(layout));
  if (created) progress.note(`ACME server CA generated: ${layout.acmeCaPath} (kept across down/up)`);
  const pids = await progress.step(`ACME server (pebble) on ${layout.hostAddress}:${ACME_PORT}, every name resolving to ${layout.address}`, () =>
    startAcme(layout, options).catch(async (error: unknown) => {
      await stopAcme(layout);
      throw error;
    }),
  );
  Object.assign(state, pids);
  writeState(layout, state);
}

export async function sandboxUp(options: SandboxOptions = {}): Promise<SandboxUpResult> {
  const t0 = Date.now();
  const { name, stateDir, progress, acme } = resolveOptions(options);
  const signal = options.signal;
  await checkPrerequisites({ progress, ...(options.installDeps === undefined ? {} : { installDeps: options.installDeps }) });
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const secretsFile = layoutFor(name, stateDir, 0).secretsPath;
  if (ensureSecretsFile(secretsFile)) progress.note(`generated the sandbox host's secrets: ${secretsFile} (mode 0600, kept across down/up)`);

  return withLock(path.join(instanceDir(stateDir, name), '.lock'), `sandbox "${name}"`, async () => {
    const previous = readState(stateDir, name);
    if (previous) {
      const layout = layoutFor(name, stateDir, previous.index);
      if (guestRunning(layout, previous)) {
        // A guest started without its ACME server (or whose pebble died) gets it (again).
        if (acme && !acmeAlive(layout, previous)) {
          await stopAcme(layout);
          await startAcmeFor(layout, previous, progress, { keepRoots: true });
        }
        return {
          ...infoFor(layout),
          alreadyRunning: true,
          secretsFile,
          ...(acme ? { acme: acmeEndpoints(layout) } : {}),
          imageBuilt: false,
          imageSeconds: 0,
          bootSeconds: 0,
          totalSeconds: (Date.now() - t0) / 1000,
        };
      }
      await progress.step('clean up what a previous run left behind', () => teardown(layout, previous));
    }

    // The operator key and the image do not depend on the subnet.
    const shared = layoutFor(name, stateDir, 0);
    const publicKey = await ensureOperatorKey(shared);
    const imageStart = Date.now();
    const { built } = await withLock(path.join(stateDir, '.image-lock'), 'the sandbox image', () =>
      ensureImage(shared, progress, signal),
    );
    const imageSeconds = (Date.now() - imageStart) / 1000;
    if (built) progress.note(`image built in ${imageSeconds.toFixed(1)}s and cached in ${shared.imageDir}`);
    signal?.throwIfAborted();

    const layout = await chooseLayout(name, stateDir);
    const state: InstanceState = { name, index: layout.index, phase: 'starting' };
    writeState(layout, state);
    const bootStart = Date.now();
    try {
      await progress.step(`network: bridge ${layout.bridge} ${layout.hostAddress}/24`, () => bridgeUp(layout));
      state.proxyPid = await progress.step(`apt proxy on ${layout.hostAddress}:${PROXY_PORT}`, () => startProxy(layout));
      writeState(layout, state);
      signal?.throwIfAborted();
      if (acme) {
        await startAcmeFor(layout, state, progress);
        signal?.throwIfAborted();
      }
      await progress.step('fresh overlay on tmpfs', async () => {
        await mountLayers(shared.imageDir, layout.layerDir, layout.rootDir);
        for (const file of guestFiles(layout, publicKey)) {
          const target = path.join(layout.rootDir, file.path);
          fs.mkdirSync(path.dirname(target), { recursive: true });
          fs.writeFileSync(target, file.content, { mode: file.mode });
          if (file.owner !== undefined) {
            fs.chownSync(path.dirname(target), file.owner, file.owner);
            fs.chmodSync(path.dirname(target), 0o700);
            fs.chownSync(target, file.owner, file.owner);
          }
        }
      });
      writeKnownHosts(layout.knownHostsPath, layout.address, hostKeys(shared));
      signal?.throwIfAborted();
      await progress.step(`boot ${layout.address} (systemd-nspawn) and wait for SSH`, async () => {
        fs.writeFileSync(layout.guestLogPath, '');
        state.guestPid = spawnDetached(supervisorArgv(layout), layout.guestLogPath);
        state.startedAt = new Date().toISOString();
        writeState(layout, state);
        const guestPid = state.guestPid;
        await waitForSsh(infoFor(layout), {
          timeoutMs: BOOT_TIMEOUT_MS,
          guestAlive: () => isAlive(guestPid),
          guestLog: () => tail(layout.guestLogPath),
          ...(signal ? { signal } : {}),
        });
      });
      state.phase = 'running';
      writeState(layout, state);
    } catch (error) {
      await progress.step('roll back (nothing of this sandbox is left)', () => teardown(layout, state));
      if (signal?.aborted) throw new SandboxAborted(`sandbox "${name}" was not started and nothing of it was left behind`);
      throw error;
    }
    return {
      ...infoFor(layout),
      alreadyRunning: false,
      secretsFile,
      ...(acme ? { acme: acmeEndpoints(layout) } : {}),
      imageBuilt: built,
      imageSeconds,
      bootSeconds: (Date.now() - bootStart) / 1000,
      totalSeconds: (Date.now() - t0) / 1000,
    };
  });
}

// Powers the guest off through nspawn; escalates to nspawn's immediate stop, then kills what is left of the container.
async function stopGuest(layout: SandboxLayout, supervisorPid: number | undefined): Promise<boolean> {
  const supervisor = supervisorPid !== undefined && isAlive(supervisorPid) ? [supervisorPid] : [];
  const upper = path.join(layout.layerDir, 'upper');
  if (supervisor.length === 0 && containerProcesses(upper).length === 0) return false;
  signalAll(supervisor, 'SIGTERM');
  if (await waitForExit(supervisor, STOP_GRACE_MS)) return true;
  // A second SIGTERM makes nspawn terminate the container at once (a guest stuck in boot or shutdown).
  signalAll(processesMentioning(`--directory=${layout.rootDir}`), 'SIGTERM');
  if (await waitForExit(supervisor, 5_000)) return true;
  signalAll(containerProcesses(upper), 'SIGKILL');
  await terminate(supervisor, 5_000);
  return true;
}

// Undoes everything an instance may have created, in reverse order; safe to run on a half-started one.
async function teardown(layout: SandboxLayout, state: InstanceState | undefined): Promise<string[]> {
  const removed: string[] = [];
  if (await stopGuest(layout, state?.guestPid)) removed.push('guest');
  const proxy = processesMentioning(layout.proxyConfDir);
  if (proxy.length > 0) {
    await terminate(proxy, 5_000);
    removed.push('apt proxy');
  }
  if (await stopAcme(layout)) removed.push('ACME server (pebble, pebble-challtestsrv)');
  // Whatever a crashed or killed earlier run left: a container without its nspawn, a stray process.
  const orphans = containerProcesses(path.join(layout.layerDir, 'upper'));
  const strays = processesMentioning(layout.instanceDir + '/');
  if (orphans.length + strays.length > 0) {
    signalAll(orphans, 'SIGKILL');
    await terminate(strays, 5_000);
    await waitForExit(orphans, 5_000);
    removed.push(`${orphans.length + strays.length} leftover process(es)`);
  }
  if (mountsUnder(layout.instanceDir).length > 0) {
    await unmountAll(layout.instanceDir);
    removed.push('overlay and tmpfs');
  }
  removed.push(...(await removeProbes(layout)).map((ns) => `probe namespace ${ns}`));
  if (state && (await bridgeDown(layout))) removed.push(`bridge ${layout.bridge}`);
  await removeTree(layout.layerDir);
  await removeTree(layout.rootDir);
  fs.rmSync(layout.statePath, { force: true });
  return removed;
}

export async function sandboxDown(options: SandboxOptions = {}): Promise<SandboxDownResult> {
  const { name, stateDir, progress } = resolveOptions(options);
  await checkPrerequisites({ progress, packages: false });
  return withLock(path.join(instanceDir(stateDir, name), '.lock'), `sandbox "${name}"`, async () => {
    const state = readState(stateDir, name);
    const layout = layoutFor(name, stateDir, state?.index ?? 0);
    const wasRunning = guestRunning(layout, state);
    const removed = await progress.step(`stop sandbox "${name}" and remove its network and mounts`, () => teardown(layout, state));
    return { name, wasRunning, removed };
  });
}

export async function sandboxStatus(options: SandboxOptions = {}): Promise<SandboxStatus> {
  const { name, stateDir } = resolveOptions(options);
  const state = readState(stateDir, name);
  const layout = layoutFor(name, stateDir, state?.index ?? 0);
  const stamp = readStamp(layout);
  const base = { name, stateDir, imageCached: stamp !== undefined, ...(stamp ? { imageBytes: stamp.bytes } : {}) };
  if (!state) return { ...base, running: false, sshReady: false };
  // The guest powered off by itself, or an "up" died half-way: its bridge, proxy and mounts wait for "down".
  if (!guestRunning(layout, state)) return { ...base, running: false, sshReady: false, leftovers: true };
  const startedAt = state.startedAt ?? new Date().toISOString();
  const diskUsedBytes = bytesUsed(layout.layerDir);
  const acme =
    state.pebblePid === undefined && acmeProcesses(layout).length === 0
      ? undefined
      : {
          ...acmeEndpoints(layout),
          ...(state.pebblePid === undefined ? {} : { pebblePid: state.pebblePid }),
          ...(state.challtestsrvPid === undefined ? {} : { challtestsrvPid: state.challtestsrvPid }),
          answering: acmeAlive(layout, state) && (await portOpen(layout.hostAddress, ACME_PORT, 500)),
        };
  return {
    ...base,
    running: true,
    sshReady: await portOpen(layout.address, layout.sshPort, 500),
    info: infoFor(layout),
    startedAt,
    uptimeSeconds: Math.round((Date.now() - Date.parse(startedAt)) / 1000),
    ...(diskUsedBytes === undefined ? {} : { diskUsedBytes }),
    ...(state.guestPid === undefined ? {} : { guestPid: state.guestPid }),
    ...(state.proxyPid === undefined ? {} : { proxyPid: state.proxyPid }),
    ...(acme === undefined ? {} : { acme }),
  };
}

// The target of a running sandbox, for tests and tools that need to reach it; fails when it is not up.
export async function sandboxTarget(options: SandboxOptions = {}): Promise<SandboxInfo> {
  const status = await sandboxStatus(options);
  if (!status.info) throw new SandboxFailure(`sandbox "${status.name}" is not running: start it with "npx zx scripts/sandbox.mjs up"`);
  return status.info;
}

// Adds a network namespace on the sandbox's bridge at 10.77.N.<host> (default .3); removed again by down.
export async function sandboxProbe(options: SandboxOptions & { host?: number } = {}): Promise<Probe> {
  const info = await sandboxTarget(options);
  const state = readState(info.stateDir, info.name);
  const layout = layoutFor(info.name, info.stateDir, state?.index ?? 0);
  const { probe, argvs } = probeArgvs(layout, options.host ?? 3);
  try {
    for (const argv of argvs) await run(argv);
  } catch (error) {
    await run(['ip', 'netns', 'del', probe.namespace]).catch(() => undefined);
    throw error;
  }
  return probe;
}
