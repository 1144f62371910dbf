// Every choice rtcops makes from a host's `os` value, and why, in one place. Where the host itself can tell (which
// package name its archive has, which OpenSSH it runs), steps read facts instead; what is left here is decided before
// connecting: rendered files and defaults.
import type { OS_VALUES } from './schema.js';

export type HostOs = (typeof OS_VALUES)[number];
export type OsFamily = 'debian' | 'ubuntu';

export function osFamily(os: HostOs): OsFamily {
  return os.startsWith('ubuntu-') ? 'ubuntu' : 'debian';
}

/** The releases the sandbox end-to-end suites provision, deploy and check on this machine; the others are accepted, not run. */
export const VERIFIED_OSES: readonly HostOs[] = ['debian-12', 'debian-13'];

/** fail2ban's sshd jail: Debian installs no rsyslog, so there is no auth.log and the jail reads sshd's journal; Ubuntu logs to /var/log/auth.log. */
export function defaultSshdBackend(os: HostOs): 'systemd' | 'auth.log' {
  return osFamily(os) === 'ubuntu' ? 'auth.log' : 'systemd';
}

/*
 * The other Ubuntu-specific choices, none of them exercised here (Ubuntu's archive is not reachable from this machine):
 * - unattended-upgrades' origins (templates/apt/50unattended-upgrades.njk): `<codename>-security` and ESM on Ubuntu,
 *   the `Debian-Security` label on Debian (by osFamily).
 * - needrestart (templates/apt/needrestart.conf.njk, /etc/needrestart/conf.d/50-rtcops.conf): Ubuntu installs it and
 *   restarts services after upgrades on its own; the drop-in that keeps it off nginx, coturn, the app (PM2's unit) and
 *   the daemon is rendered on every host, harmless where it is not installed (Debian does not install it).
 * - Node.js from NodeSource (`node.source: nodesource`, the default; lib/provision/steps/runtime.ts): the same apt
 *   repository serves Debian and Ubuntu; the sandbox uses `node.source: upload`, so NodeSource is not run here.
 */
