import type { ResolvedHost } from '../inventory/index.js';
import type { SshConnection } from '../runner/ssh-target.js';

/** How rtcops reaches a host: its inventory ssh settings as the runner takes them. */
export function connectionOf(host: ResolvedHost): SshConnection {
  return {
    name: host.name, address: host.ssh.address, port: host.ssh.port, user: host.ssh.user, keyPath: host.ssh.keyPath,
    hostKey: host.ssh.hostKey, fingerprint: host.ssh.fingerprint, knownHostsFile: host.ssh.knownHostsFile,
    sudo: host.ssh.sudo, connectTimeoutMs: host.ssh.connectTimeoutMs,
  };
}
