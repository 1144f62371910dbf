// Where a sandbox keeps its files and which addresses and interface names it uses: pure, derived from its name.
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_OS, type SandboxOs } from './releases.js';

export const DEFAULT_NAME = 'sandbox';
export const SSH_PORT = 22;
export const GUEST_USER = 'rtcops';
export const GUEST_UID = 1000;
export const PROXY_PORT = 3142;
// The sandbox's ACME server (pebble) and its DNS (pebble-challtestsrv), on the host side of the bridge.
export const ACME_PORT = 14000;
export const ACME_MANAGEMENT_PORT = 15000;
export const ACME_DNS_PORT = 8053;
export const CHALLTESTSRV_MANAGEMENT_PORT = 8055;
export const PREFIX_LENGTH = 24;
const SECOND_OCTET = 77;

// nspawn names the host side of the veth "vb-<machine>", and interface names hold at most 15 characters.
const NAME_PATTERN = /^[a-z][a-z0-9-]{0,11}$/;

export interface SandboxLayout {
  name: string;
  stateDir: string;
  os: SandboxOs;
  index: number;
  subnet: string;
  bridge: string;
  hostAddress: string;
  address: string;
  sshPort: number;
  user: string;
  keyPath: string;
  knownHostsPath: string;
  imageDir: string;
  imageBuildDir: string;
  debCacheDir: string;
  proxyDebsDir: string;
  proxyRootDir: string;
  proxyCacheDir: string;
  instanceDir: string;
  layerDir: string;
  rootDir: string;
  proxyConfDir: string;
  statePath: string;
  guestLogPath: string;
  proxyLogPath: string;
  probePrefix: string;
  acmeCaPath: string;
  acmeCaKeyPath: string;
  acmeDir: string;
  acmeRootsPath: string;
  secretsPath: string;
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string {
  return env.RTCOPS_SANDBOX_DIR || path.join(home, '.cache', 'rtcops', 'sandbox');
}

export function nameProblem(name: string): string | undefined {
  return NAME_PATTERN.test(name)
    ? undefined
    : `sandbox name "${name}" must be 1-12 characters: a lowercase letter, then lowercase letters, digits or "-"`;
}

// The default sandbox always gets 10.77.0.0/24 (the address others rely on); other names hash into 1..254.
export function preferredIndex(name: string): number {
  if (name === DEFAULT_NAME) return 0;
  let hash = 0x811c9dc5;
  for (const ch of name) hash = Math.imul(hash ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return 1 + (hash % 254);
}

// Order in which /24s are tried for a name: its preferred one first, then the following ones (never 0).
export function candidateIndexes(name: string): number[] {
  const first = preferredIndex(name);
  if (first === 0) return [0];
  return Array.from({ length: 254 }, (_, i) => 1 + ((first - 1 + i) % 254));
}

export function subnetOf(index: number): string {
  return `10.${SECOND_OCTET}.${index}.0/${PREFIX_LENGTH}`;
}

export function layoutFor(name: string, stateDir: string, index: number, os: SandboxOs = DEFAULT_OS): SandboxLayout {
  const instanceDir = path.join(stateDir, 'instances', name);
  // One image per release; its apt-cacher-ng comes from the same release's packages.
  const images = path.join(stateDir, 'images');
  return {
    name,
    stateDir,
    os,
    index,
    subnet: subnetOf(index),
    bridge: `rtcops-sb${index}`,
    hostAddress: `10.${SECOND_OCTET}.${index}.1`,
    address: `10.${SECOND_OCTET}.${index}.2`,
    sshPort: SSH_PORT,
    user: GUEST_USER,
    keyPath: path.join(stateDir, 'id_ed25519'),
    knownHostsPath: path.join(stateDir, 'known_hosts'),
    imageDir: path.join(images, os),
    imageBuildDir: path.join(images, `${os}.build`),
    debCacheDir: path.join(stateDir, 'deb-cache', os),
    proxyDebsDir: path.join(images, `${os}.apt-proxy`, 'debs'),
    proxyRootDir: path.join(images, `${os}.apt-proxy`, 'root'),
    proxyCacheDir: path.join(stateDir, 'apt-proxy', 'cache', name),
    instanceDir,
    layerDir: path.join(instanceDir, 'layer'),
    rootDir: path.join(instanceDir, 'root'),
    proxyConfDir: path.join(instanceDir, 'apt-proxy'),
    statePath: path.join(instanceDir, 'state.json'),
    guestLogPath: path.join(instanceDir, 'nspawn.log'),
    proxyLogPath: path.join(instanceDir, 'apt-proxy.log'),
    probePrefix: `rtcops-${name}-p`,
    // Kept across down/up (and shared by every sandbox of this state dir): what acme.caBundle points at.
    acmeCaPath: path.join(stateDir, 'pebble-ca.pem'),
    acmeCaKeyPath: path.join(stateDir, 'pebble-ca.key'),
    acmeDir: path.join(instanceDir, 'acme'),
    // The roots that the certificates this sandbox's pebble issues chain to (pebble makes new ones at every
    // start): what acme.issuerRoots points at, so the daemon, check.mjs and deploy's probe trust them.
    acmeRootsPath: path.join(stateDir, name === 'sandbox' ? 'pebble-roots.pem' : `pebble-roots-${name}.pem`),
    // The sandbox host's secrets (inventory.yaml reads them from here), generated once.
    secretsPath: path.join(stateDir, 'secrets.yaml'),
  };
}

// Parses "a.b.c.d/len" into a 32-bit network number and mask; undefined for anything else (IPv6, "default").
export function parseCidr(cidr: string): { network: number; mask: number } | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(cidr);
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  const length = match[5] === undefined ? 32 : Number(match[5]);
  if (octets.some((o) => o > 255) || length > 32) return undefined;
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  const address = octets.reduce((acc, o) => ((acc << 8) | o) >>> 0, 0);
  return { network: (address & mask) >>> 0, mask };
}

export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return false;
  const mask = (x.mask & y.mask) >>> 0;
  return ((x.network & mask) >>> 0) === ((y.network & mask) >>> 0);
}
