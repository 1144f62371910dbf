// SSH to the guest with the operator key and the pinned host key: known_hosts, a small command runner, readiness.
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodeSSH } from 'node-ssh';
import { shJoin } from '../runner/quote.js';
import { portOpen } from './network.js';
import { SandboxAborted, SandboxFailure } from './errors.js';

export interface SshTarget {
  address: string;
  sshPort: number;
  user: string;
  keyPath: string;
  knownHostsPath: string;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

// Replaces this address's lines in known_hosts and keeps other sandboxes' lines.
export function pinnedKnownHosts(existing: string, address: string, keys: string[]): string {
  const others = existing.split('\n').filter((line) => line.trim() !== '' && line.split(' ')[0] !== address);
  return [...others, ...keys.map((key) => `${address} ${key}`)].join('\n') + '\n';
}

export function writeKnownHosts(path: string, address: string, keys: string[]): void {
  const existing = fs.existsSync(path) ? fs.readFileSync(path, 'utf8') : '';
  fs.writeFileSync(path, pinnedKnownHosts(existing, address, keys), { mode: 0o644 });
}

// The raw key blobs known_hosts pins for one address (what ssh2 hands to hostVerifier).
export function pinnedKeyBlobs(knownHosts: string, address: string): Buffer[] {
  return knownHosts
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[0]?.split(',').includes(address) && fields[2])
    .map((fields) => Buffer.from(fields[2] ?? '', 'base64'));
}

export class HostKeyMismatch extends SandboxFailure {}

export async function connectGuest(target: SshTarget, readyTimeout = 10_000): Promise<NodeSSH> {
  const pinned = pinnedKeyBlobs(fs.readFileSync(target.knownHostsPath, 'utf8'), target.address);
  let mismatch = false;
  const ssh = new NodeSSH();
  try {
    await ssh.connect({
      host: target.address,
      port: target.sshPort,
      username: target.user,
      privateKeyPath: target.keyPath,
      readyTimeout,
      hostVerifier: (key: Buffer) => {
        mismatch = !pinned.some((blob) => blob.equals(key));
        return !mismatch;
      },
    });
    // No Nagle delay on small request/answer exchanges (see lib/runner/ssh-target.ts).
    ssh.connection?.setNoDelay(true);
    return ssh;
  } catch (error) {
    ssh.dispose();
    if (mismatch) throw new HostKeyMismatch(`host key of ${target.address} is not the one pinned in ${target.knownHostsPath}`);
    throw error;
  }
}

// One command in the guest over a fresh connection (the general remote runner comes later).
export async function runInGuest(target: SshTarget, command: string, options: { stdin?: string } = {}): Promise<CommandResult> {
  const ssh = await connectGuest(target);
  try {
    const result = await ssh.execCommand(command, options.stdin === undefined ? {} : { stdin: options.stdin });
    return { code: result.code, stdout: result.stdout, stderr: result.stderr };
  } finally {
    ssh.dispose();
  }
}

// Waits until sshd answers and authenticates us with the pinned host key; gives up early when the guest died.
export async function waitForSsh(
  target: SshTarget,
  options: { timeoutMs: number; signal?: AbortSignal; guestAlive: () => boolean; guestLog: () => string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError = 'port 22 closed';
  while (Date.now() < deadline) {
    if (options.signal?.aborted) throw new SandboxAborted('interrupted while waiting for SSH');
    if (!options.guestAlive()) throw new SandboxFailure(`the guest stopped while booting:\n${options.guestLog()}`);
    if (await portOpen(target.address, target.sshPort, 250)) {
      try {
        (await connectGuest(target, 5_000)).dispose();
        return;
      } catch (error) {
        if (error instanceof HostKeyMismatch) throw error;
        lastError = (error as Error).message;
      }
    }
    await sleep(100);
  }
  throw new SandboxFailure(`SSH on ${target.address}:${target.sshPort} not ready after ${options.timeoutMs / 1000}s (${lastError})\n${options.guestLog()}`);
}

// The system ssh client, pinned the same way: what "sandbox ssh" runs and what the operator can copy. ssh joins its
// command words into one line for the guest's shell, so each word is quoted: `-- sudo bash -c 'a | b'` arrives as typed.
export function sshArgv(target: SshTarget, command: string[] = []): [string, ...string[]] {
  return [
    'ssh',
    '-i',
    target.keyPath,
    '-o',
    `UserKnownHostsFile=${target.knownHostsPath}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-p',
    String(target.sshPort),
    `${target.user}@${target.address}`,
    ...(command.length > 0 ? [shJoin(command)] : []),
  ];
}
