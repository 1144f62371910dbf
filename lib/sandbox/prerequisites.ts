// What the machine needs before a sandbox can start, and the Debian package that provides each piece.
import fs from 'node:fs';
import path from 'node:path';
import { SandboxConfigError } from './errors.js';
import { run } from './processes.js';
import type { Progress } from './progress.js';

// command -> Debian/Ubuntu package that ships it
export const REQUIRED_COMMANDS: Record<string, string> = {
  mmdebstrap: 'mmdebstrap',
  'systemd-nspawn': 'systemd-container',
  ip: 'iproute2',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  'dpkg-deb': 'dpkg',
  mount: 'mount',
  umount: 'mount',
  du: 'coreutils',
  // The sandbox's ACME server and its certificates.
  pebble: 'pebble',
  'pebble-challtestsrv': 'pebble',
  openssl: 'openssl',
};

// file -> package; the image is Debian, so an Ubuntu machine needs Debian's archive keys to check its packages.
export const REQUIRED_FILES: Record<string, string> = {
  '/usr/share/keyrings/debian-archive-keyring.gpg': 'debian-archive-keyring',
};

export interface MachineFacts {
  uid: number;
  platform: string;
  hasApt: boolean;
  overlayFs: boolean;
  commands: Record<string, boolean>;
  files: Record<string, boolean>;
}

export function gatherFacts(): MachineFacts {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  const found = (command: string) => dirs.some((dir) => fs.existsSync(path.join(dir, command)));
  let filesystems = '';
  try {
    filesystems = fs.readFileSync('/proc/filesystems', 'utf8');
  } catch {
    // not Linux: reported as a platform problem
  }
  return {
    uid: process.getuid?.() ?? -1,
    platform: process.platform,
    hasApt: fs.existsSync('/usr/bin/apt-get') && fs.existsSync('/etc/debian_version'),
    overlayFs: /\toverlay\n/.test(filesystems),
    commands: Object.fromEntries(Object.keys(REQUIRED_COMMANDS).map((c) => [c, found(c)])),
    files: Object.fromEntries(Object.keys(REQUIRED_FILES).map((f) => [f, fs.existsSync(f)])),
  };
}

export function missingPackages(facts: MachineFacts): string[] {
  const packages = [
    ...Object.entries(REQUIRED_COMMANDS).filter(([command]) => !facts.commands[command]),
    ...Object.entries(REQUIRED_FILES).filter(([file]) => !facts.files[file]),
  ].map(([, pkg]) => pkg);
  return [...new Set(packages)];
}

// Problems that stop the sandbox here, each with its fix; empty when the machine can run it.
export function problems(facts: MachineFacts, needs: { packages: boolean }): string[] {
  if (facts.platform !== 'linux') return [`the sandbox needs Linux (systemd-nspawn); this is ${facts.platform}`];
  const found: string[] = [];
  if (facts.uid !== 0) found.push('the sandbox needs root (it creates a bridge, mounts and a container): run it with sudo');
  if (!facts.hasApt) found.push('the sandbox needs a Debian or Ubuntu machine (apt, mmdebstrap)');
  if (!facts.overlayFs) found.push('the kernel has no overlay filesystem: load it with "modprobe overlay"');
  const missing = needs.packages ? missingPackages(facts) : [];
  if (missing.length > 0) {
    found.push(`missing packages: ${missing.join(' ')}; install them with "apt-get install ${missing.join(' ')}" or rerun with --install-deps`);
  }
  return found;
}

export async function checkPrerequisites(options: { installDeps?: boolean; progress: Progress; packages?: boolean }): Promise<void> {
  const needs = { packages: options.packages ?? true };
  let facts = gatherFacts();
  const missing = missingPackages(facts);
  if (options.installDeps && needs.packages && missing.length > 0 && facts.uid === 0 && facts.hasApt) {
    await options.progress.step(`install ${missing.join(' ')}`, async () => {
      await run(['apt-get', 'update', '-q']);
      await run(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '-q', '--no-install-recommends', ...missing]);
    });
    facts = gatherFacts();
  }
  const found = problems(facts, needs);
  if (found.length > 0) throw new SandboxConfigError(`cannot run the sandbox on this machine:\n  - ${found.join('\n  - ')}`);
}
