// The sandbox's own network: a bridge holding the host address, plus optional "probe" namespaces on it.
import net from 'node:net';
import { candidateIndexes, cidrsOverlap, layoutFor, PREFIX_LENGTH, subnetOf, type SandboxLayout } from './layout.js';
import { type Argv, query, run } from './processes.js';
import { SandboxConfigError } from './errors.js';
import type { SandboxOs } from './releases.js';

export interface AddressInUse {
  cidr: string;
  owner: string;
}

export function bridgeUpArgvs(layout: SandboxLayout): Argv[] {
  return [
    ['ip', 'link', 'add', 'name', layout.bridge, 'type', 'bridge'],
    ['ip', 'addr', 'add', `${layout.hostAddress}/${PREFIX_LENGTH}`, 'dev', layout.bridge],
    ['ip', 'link', 'set', layout.bridge, 'up'],
  ];
}

interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}
interface IpRouteJson {
  dst: string;
  dev?: string;
}

// Every IPv4 network this machine already uses (interface addresses and routes), with who uses it.
export async function addressesInUse(): Promise<AddressInUse[]> {
  const addrs = JSON.parse((await query(['ip', '-j', '-4', 'addr', 'show'])).stdout || '[]') as IpAddrJson[];
  const routes = JSON.parse((await query(['ip', '-j', '-4', 'route', 'show', 'table', 'all'])).stdout || '[]') as IpRouteJson[];
  return [
    ...addrs.flatMap((link) =>
      (link.addr_info ?? []).map((a) => ({ cidr: `${a.local}/${a.prefixlen}`, owner: `interface ${link.ifname}` })),
    ),
    ...routes
      .filter((r) => r.dst !== 'default' && !r.dst.startsWith('127.'))
      .map((r) => ({ cidr: r.dst, owner: `route ${r.dst}${r.dev ? ` dev ${r.dev}` : ''}` })),
  ];
}

export function conflictFor(index: number, inUse: AddressInUse[], links: string[]): string | undefined {
  const bridge = `rtcops-sb${index}`;
  if (links.includes(bridge)) return `interface ${bridge} exists`;
  return inUse.find((u) => cidrsOverlap(u.cidr, subnetOf(index)))?.owner;
}

export async function linkNames(): Promise<string[]> {
  const links = JSON.parse((await query(['ip', '-j', 'link', 'show'])).stdout || '[]') as { ifname: string }[];
  return links.map((l) => l.ifname);
}

// The first free /24 for this name; the default sandbox insists on 10.77.0.0/24.
export async function chooseLayout(name: string, stateDir: string, os: SandboxOs): Promise<SandboxLayout> {
  const inUse = await addressesInUse();
  const links = await linkNames();
  const candidates = candidateIndexes(name);
  for (const index of candidates) {
    if (!conflictFor(index, inUse, links)) return layoutFor(name, stateDir, index, os);
  }
  const first = candidates[0] ?? 0;
  throw new SandboxConfigError(
    `no free subnet for sandbox "${name}": ${subnetOf(first)} is taken by ${conflictFor(first, inUse, links)}` +
      (candidates.length === 1 ? ' (stop what uses it, or pick another sandbox with --name)' : ''),
  );
}

export async function bridgeUp(layout: SandboxLayout): Promise<void> {
  for (const argv of bridgeUpArgvs(layout)) await run(argv);
}

export async function bridgeDown(layout: SandboxLayout): Promise<boolean> {
  if (!(await linkNames()).includes(layout.bridge)) return false;
  await run(['ip', 'link', 'del', layout.bridge]);
  return true;
}

export interface Probe {
  namespace: string;
  address: string;
}

// A network namespace plugged into the bridge at 10.77.N.<host>, to reach the guest "from outside" (firewall tests).
export function probeArgvs(layout: SandboxLayout, host: number): { probe: Probe; argvs: Argv[] } {
  const namespace = `${layout.probePrefix}${host}`;
  const address = layout.address.replace(/\.2$/, `.${host}`);
  const veth = `rtsb${layout.index}p${host}`;
  return {
    probe: { namespace, address },
    argvs: [
      ['ip', 'netns', 'add', namespace],
      ['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace],
      ['ip', 'link', 'set', veth, 'master', layout.bridge, 'up'],
      ['ip', '-n', namespace, 'addr', 'add', `${address}/${PREFIX_LENGTH}`, 'dev', 'eth0'],
      ['ip', '-n', namespace, 'link', 'set', 'eth0', 'up'],
      ['ip', '-n', namespace, 'link', 'set', 'lo', 'up'],
    ],
  };
}

export async function probeNamespaces(layout: SandboxLayout): Promise<string[]> {
  const { stdout } = await query(['ip', '-j', 'netns', 'list']);
  const list = JSON.parse(stdout || '[]') as { name: string }[];
  return list.map((n) => n.name).filter((n) => n.startsWith(layout.probePrefix));
}

export async function removeProbes(layout: SandboxLayout): Promise<string[]> {
  const namespaces = await probeNamespaces(layout);
  for (const namespace of namespaces) await run(['ip', 'netns', 'del', namespace]);
  return namespaces;
}

// Whether a TCP port accepts connections (readiness of sshd and the apt proxy).
export function portOpen(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
