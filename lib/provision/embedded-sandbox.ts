// Provisioning the built-in sandbox host ("npx zx scripts/provision.mjs sandbox") on a machine where it is not
// running yet: boot it first (with its ACME server and secrets file), so the README's main command works as written.
import type { Io } from '../cli.js';
import type { ResolvedHost } from '../inventory/index.js';
import {
  DEFAULT_NAME,
  defaultStateDir,
  isSandboxOs,
  RELEASES,
  SandboxAborted,
  SandboxConfigError,
  sandboxStatus,
  sandboxUp,
  streamProgress,
} from '../sandbox/index.js';
import { layoutFor } from '../sandbox/layout.js';

/**
 * The inventory host that is the default sandbox: named like it, at its guest address, and reached as its user with the
 * sandbox's own operator key and pinned host keys. A host that is merely called "sandbox" at that address (an
 * operator's own VM or container) is provisioned like any other host: never booted, never replaced.
 */
export function isEmbeddedSandbox(host: ResolvedHost, stateDir = defaultStateDir()): boolean {
  const own = layoutFor(DEFAULT_NAME, stateDir, 0);
  return host.name === DEFAULT_NAME && host.ssh.address === own.address && host.ssh.port === own.sshPort && host.ssh.user === own.user
    && host.ssh.keyPath === own.keyPath && host.ssh.knownHostsFile === own.knownHostsPath;
}

/**
 * Starts the default sandbox when one of the hosts is it and it (or its ACME server) is not running.
 * Returns an exit code when that failed (2 machine problem, 130 interrupted), undefined to go on.
 */
export async function startEmbeddedSandbox(hosts: ResolvedHost[], io: Io): Promise<number | undefined> {
  const host = hosts.find((h) => isEmbeddedSandbox(h));
  if (host === undefined) return undefined;
  const os = host.os;
  if (!isSandboxOs(os)) {
    io.err(`[${host.name}] the built-in sandbox boots Debian 12 or 13, and the inventory says os: ${os}: set os: debian-12 or debian-13 for it`);
    return 2;
  }
  const status = await sandboxStatus();
  if (status.running && status.os !== os) {
    io.err(`[${host.name}] the sandbox runs ${RELEASES[status.os].label} and the inventory says ${RELEASES[os].label}: npx zx scripts/sandbox.mjs reset --os ${os}`);
    return 2;
  }
  if (status.running && status.acme?.answering === true) return undefined;
  io.err(
    status.running
      ? `[${host.name}] the sandbox runs without its ACME server: starting it (npx zx scripts/sandbox.mjs up)`
      : `[${host.name}] the sandbox host ${host.ssh.address} is not running: starting it first (npx zx scripts/sandbox.mjs up)`,
  );
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    // The README's main command on a fresh machine: the host packages the sandbox needs are installed (and named) here.
    const up = await sandboxUp({ progress: streamProgress(process.stderr, 'sandbox'), signal: controller.signal, installDeps: true, os });
    io.err(`[${host.name}] sandbox up at ${up.address}${up.acme ? `, ACME server ${up.acme.directoryUrl}` : ''}`);
    return undefined;
  } catch (error) {
    if (error instanceof SandboxAborted || controller.signal.aborted) {
      io.err(`interrupted: ${(error as Error).message}`);
      return 130;
    }
    if (error instanceof SandboxConfigError) {
      io.err(`cannot start the sandbox: ${error.message}`);
      return error.exitCode;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
