import type { ResolvedHost } from '../inventory/index.js';
import type { Connect } from '../runner/runner.js';
import { SshTarget, type SshConnection } from '../runner/ssh-target.js';

/** How rtcops reaches a host: its inventory ssh settings as the runner takes them. */
export function connectionOf(host: ResolvedHost): SshConnection {
  return {
    name: host.name, address: host.ssh.address, port: host.ssh.port, user: host.ssh.user, keyPath: host.ssh.keyPath,
    hostKey: host.ssh.hostKey, fingerprint: host.ssh.fingerprint, knownHostsFile: host.ssh.knownHostsFile,
    sudo: host.ssh.sudo, connectTimeoutMs: host.ssh.connectTimeoutMs,
  };
}

/** Opens an SSH Runner to the host: what every engine is given unless a test or a plan gives it another. */
export function sshTo(host: ResolvedHost): Connect {
  return () => SshTarget.connect(connectionOf(host));
}
