// apt-cacher-ng on the bridge address: the guest's only way to Debian's mirrors, with a cache that outlives the guest.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROXY_PORT, type SandboxLayout } from './layout.js';
import { type Argv, isAlive, spawnDetached, tail } from './processes.js';
import { proxyBinary } from './image.js';
import { SandboxFailure } from './errors.js';
import { portOpen } from './network.js';

const MULTIARCH: Record<string, { triplet: string; loader: string }> = {
  x64: { triplet: 'x86_64-linux-gnu', loader: 'lib64/ld-linux-x86-64.so.2' },
  arm64: { triplet: 'aarch64-linux-gnu', loader: 'lib/ld-linux-aarch64.so.1' },
};

export function proxyConfig(layout: SandboxLayout): string {
  return [
    `CacheDir: ${layout.proxyCacheDir}`,
    `LogDir: ${layout.proxyConfDir}`,
    `SupportDir: ${path.join(layout.proxyRootDir, 'usr', 'lib', 'apt-cacher-ng')}`,
    `SocketPath: ${path.join(layout.proxyConfDir, 'socket')}`,
    `Port: ${PROXY_PORT}`,
    `BindAddress: ${layout.hostAddress}`,
    'ForeGround: 1',
    'ReportPage: acng-report.html',
    'ExThreshold: 4',
    '',
  ].join('\n');
}

// Runs the bookworm binary with the image's own loader and libraries, so it does not depend on the host's.
export function proxyArgv(layout: SandboxLayout, arch = process.arch): Argv {
  const abi = MULTIARCH[arch];
  if (!abi) throw new SandboxFailure(`the apt proxy supports x64 and arm64 hosts, not ${arch}`);
  const libs = [
    path.join(layout.proxyRootDir, 'usr', 'lib', abi.triplet),
    path.join(layout.proxyRootDir, 'lib', abi.triplet),
    path.join(layout.imageDir, 'usr', 'lib', abi.triplet),
  ];
  return [
    path.join(layout.imageDir, abi.loader),
    '--library-path',
    libs.join(':'),
    proxyBinary(layout),
    '-c',
    layout.proxyConfDir,
  ];
}

export async function startProxy(layout: SandboxLayout): Promise<number> {
  fs.mkdirSync(layout.proxyCacheDir, { recursive: true });
  fs.mkdirSync(layout.proxyConfDir, { recursive: true });
  fs.writeFileSync(path.join(layout.proxyConfDir, 'acng.conf'), proxyConfig(layout));
  fs.writeFileSync(layout.proxyLogPath, '');
  const pid = spawnDetached(proxyArgv(layout), layout.proxyLogPath);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) break;
    if (await portOpen(layout.hostAddress, PROXY_PORT, 300)) return pid;
    await sleep(50);
  }
  throw new SandboxFailure(`apt-cacher-ng did not listen on ${layout.hostAddress}:${PROXY_PORT}\n${tail(layout.proxyLogPath)}`);
}
