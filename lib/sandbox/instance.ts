// One sandbox's life: up (image, bridge, apt proxy, overlay, nspawn, SSH), down (undo all of it), status.
import fs from 'node:fs';
import path from 'node:path';
import { acmeAlive, acmeEndpoints, acmeProcesses, ensureAcmeCa, type SandboxAcme, startAcme, stopAcme } from './acme.js';
import { startProxy } from './apt-proxy.js';
import { SandboxAborted, SandboxConfigError, SandboxFailure } from './errors.js';
import { bootGuest, ensureOperatorKey, writeGuestFiles } from './guest.js';
import { ensureImage, hostKeys, readStamp } from './image.js';
import { guestRunning, type InstanceState, instanceDir, readState, recordedLayout, withLock, writeState } from './instance-state.js';
import { ACME_PORT, DEFAULT_NAME, defaultStateDir, layoutFor, nameProblem, PROXY_PORT, type SandboxLayout } from './layout.js';
import { bytesUsed, mountLayers } from './mounts.js';
import { bridgeUp, chooseLayout, portOpen, probeArgvs, type Probe } from './network.js';
import { checkPrerequisites } from './prerequisites.js';
import { run } from './processes.js';
import { type Progress, silentProgress } from './progress.js';
import { DEFAULT_OS, osProblem, RELEASES, type SandboxOs } from './releases.js';
import { ensureSecretsFile } from './secrets.js';
import { type SshTarget, writeKnownHosts } from './ssh.js';
import { teardown } from './teardown.js';

export interface SandboxOptions {
  name?: string;
  stateDir?: string;
  progress?: Progress;
  signal?: AbortSignal;
  installDeps?: boolean;
  // Also run the sandbox's ACME server (pebble) on its bridge; default: only for the default sandbox, the one
  // inventory.yaml's acme settings point at (tests run their own pebble on their sandboxes' bridges).
  acme?: boolean;
  // The release "up" boots (default: Debian 12, or what the sandbox runs); a running one of another release is
  // refused, not replaced.
  os?: SandboxOs;
}

export interface SandboxInfo extends SshTarget {
  name: string;
  os: SandboxOs;
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
  // The running instance's release, else the one asked about (its image is what imageCached describes).
  os: SandboxOs;
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

export function infoFor(layout: SandboxLayout): SandboxInfo {
  return {
    name: layout.name,
    os: layout.os,
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

interface ResolvedOptions {
  name: string;
  stateDir: string;
  progress: Progress;
  acme: boolean;
  os: SandboxOs;
  // Whether the caller named the release (else a running sandbox of any release is kept).
  osGiven: boolean;
  signal: AbortSignal | undefined;
}

function resolveOptions(options: SandboxOptions): ResolvedOptions {
  const name = options.name ?? DEFAULT_NAME;
  const problem = nameProblem(name) ?? osProblem(options.os ?? DEFAULT_OS);
  if (problem) throw new SandboxConfigError(problem);
  return {
    name,
    stateDir: path.resolve(options.stateDir ?? defaultStateDir()),
    progress: options.progress ?? silentProgress,
    acme: options.acme ?? name === DEFAULT_NAME,
    os: options.os ?? DEFAULT_OS,
    osGiven: options.os !== undefined,
    signal: options.signal,
  };
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
  const resolved = resolveOptions(options);
  const { name, stateDir, progress } = resolved;
  await checkPrerequisites({ progress, ...(options.installDeps === undefined ? {} : { installDeps: options.installDeps }) });
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const secretsFile = layoutFor(name, stateDir, 0).secretsPath;
  if (ensureSecretsFile(secretsFile)) progress.note(`generated the sandbox host's secrets: ${secretsFile} (mode 0600, kept across down/up)`);

  return withLock(path.join(instanceDir(stateDir, name), '.lock'), `sandbox "${name}"`, async () => {
    const previous = readState(stateDir, name);
    if (previous) {
      const running = await keepRunning(resolved, previous);
      if (running) return { ...running, secretsFile, totalSeconds: (Date.now() - t0) / 1000 };
      await progress.step('clean up what a previous run left behind', () => teardown(recordedLayout(stateDir, name, previous), previous));
    }
    const image = await prepareImage(resolved);
    const { layout, bootSeconds } = await startInstance(resolved, image.publicKey);
    return {
      ...infoFor(layout),
      alreadyRunning: false,
      secretsFile,
      ...(resolved.acme ? { acme: acmeEndpoints(layout) } : {}),
      imageBuilt: image.built,
      imageSeconds: image.seconds,
      bootSeconds,
      totalSeconds: (Date.now() - t0) / 1000,
    };
  });
}

type UpStart = Omit<SandboxUpResult, 'secretsFile' | 'totalSeconds'>;

// A guest that an earlier "up" booted is kept (it gets its ACME server again if that died); undefined: start afresh.
async function keepRunning(o: ResolvedOptions, previous: InstanceState): Promise<UpStart | undefined> {
  const layout = recordedLayout(o.stateDir, o.name, previous);
  if (!guestRunning(layout, previous)) return undefined;
  if (o.osGiven && layout.os !== o.os) {
    throw new SandboxConfigError(
      `sandbox "${o.name}" is running ${RELEASES[layout.os].label}, not ${RELEASES[o.os].label}: ` +
        `stop it first (npx zx scripts/sandbox.mjs down${o.name === DEFAULT_NAME ? '' : ` --name ${o.name}`}) or use another --name`,
    );
  }
  if (o.acme && !acmeAlive(layout, previous)) {
    await stopAcme(layout);
    await startAcmeFor(layout, previous, o.progress, { keepRoots: true });
  }
  return {
    ...infoFor(layout),
    alreadyRunning: true,
    ...(o.acme ? { acme: acmeEndpoints(layout) } : {}),
    imageBuilt: false,
    imageSeconds: 0,
    bootSeconds: 0,
  };
}

// The operator key and the release's image (built once, cached); neither depends on the subnet.
async function prepareImage(o: ResolvedOptions): Promise<{ publicKey: string; built: boolean; seconds: number }> {
  const shared = layoutFor(o.name, o.stateDir, 0, o.os);
  const publicKey = await ensureOperatorKey(shared);
  const t0 = Date.now();
  const { built } = await withLock(`${shared.imageDir}.lock`, `the ${RELEASES[o.os].label} sandbox image`, () =>
    ensureImage(shared, o.progress, o.signal),
  );
  const seconds = (Date.now() - t0) / 1000;
  if (built) o.progress.note(`image built in ${seconds.toFixed(1)}s and cached in ${shared.imageDir}`);
  o.signal?.throwIfAborted();
  return { publicKey, built, seconds };
}

// Bridge, apt proxy, ACME server, overlay, boot to SSH; on any failure or interrupt nothing of the instance is left.
async function startInstance(o: ResolvedOptions, publicKey: string): Promise<{ layout: SandboxLayout; bootSeconds: number }> {
  const { progress, signal } = o;
  const layout = await chooseLayout(o.name, o.stateDir, o.os);
  const state: InstanceState = { name: o.name, index: layout.index, os: o.os, phase: 'starting' };
  writeState(layout, state);
  const t0 = Date.now();
  try {
    await progress.step(`network: bridge ${layout.bridge} ${layout.hostAddress}/24`, () => bridgeUp(layout));
    state.proxyPid = await progress.step(`apt proxy on ${layout.hostAddress}:${PROXY_PORT}`, () => startProxy(layout));
    writeState(layout, state);
    signal?.throwIfAborted();
    if (o.acme) {
      await startAcmeFor(layout, state, progress);
      signal?.throwIfAborted();
    }
    await progress.step(`fresh overlay on tmpfs over the ${RELEASES[o.os].label} image`, async () => {
      await mountLayers(layout.imageDir, layout.layerDir, layout.rootDir);
      writeGuestFiles(layout, publicKey);
    });
    writeKnownHosts(layout.knownHostsPath, layout.address, hostKeys(layout));
    signal?.throwIfAborted();
    await progress.step(`boot ${layout.address} (systemd-nspawn) and wait for SSH`, () =>
      bootGuest(layout, infoFor(layout), (guestPid) => {
        Object.assign(state, { guestPid, startedAt: new Date().toISOString() });
        writeState(layout, state);
      }, signal),
    );
    state.phase = 'running';
    writeState(layout, state);
  } catch (error) {
    await progress.step('roll back (nothing of this sandbox is left)', () => teardown(layout, state));
    if (signal?.aborted) throw new SandboxAborted(`sandbox "${o.name}" was not started and nothing of it was left behind`);
    throw error;
  }
  return { layout, bootSeconds: (Date.now() - t0) / 1000 };
}

export async function sandboxDown(options: SandboxOptions = {}): Promise<SandboxDownResult> {
  const { name, stateDir, progress } = resolveOptions(options);
  await checkPrerequisites({ progress, packages: false });
  return withLock(path.join(instanceDir(stateDir, name), '.lock'), `sandbox "${name}"`, async () => {
    const state = readState(stateDir, name);
    const layout = recordedLayout(stateDir, name, state);
    const wasRunning = guestRunning(layout, state);
    const removed = await progress.step(`stop sandbox "${name}" and remove its network and mounts`, () => teardown(layout, state));
    return { name, wasRunning, removed };
  });
}

export async function sandboxStatus(options: SandboxOptions = {}): Promise<SandboxStatus> {
  const { name, stateDir, os } = resolveOptions(options);
  const state = readState(stateDir, name);
  const layout = state ? recordedLayout(stateDir, name, state) : layoutFor(name, stateDir, 0, os);
  const stamp = readStamp(layout);
  const base = { name, os: layout.os, stateDir, imageCached: stamp !== undefined, ...(stamp ? { imageBytes: stamp.bytes } : {}) };
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
  const nameFlag = status.name === DEFAULT_NAME ? '' : ` --name ${status.name}`;
  if (!status.info) throw new SandboxFailure(`sandbox "${status.name}" is not running: start it with "npx zx scripts/sandbox.mjs up${nameFlag}"`);
  return status.info;
}

// Adds a network namespace on the sandbox's bridge at 10.77.N.<host> (default .3); removed again by down.
export async function sandboxProbe(options: SandboxOptions & { host?: number } = {}): Promise<Probe> {
  const info = await sandboxTarget(options);
  const layout = recordedLayout(info.stateDir, info.name, readState(info.stateDir, info.name));
  const { probe, argvs } = probeArgvs(layout, options.host ?? 3);
  try {
    for (const argv of argvs) await run(argv);
  } catch (error) {
    await run(['ip', 'netns', 'del', probe.namespace]).catch(() => undefined);
    throw error;
  }
  return probe;
}
