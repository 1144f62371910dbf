import { isIP } from 'node:net';
import { layoutOf, sshTo } from '../host/index.js';
import { hasPublicDns, type HostSecrets, type ResolvedHost } from '../inventory/index.js';
import type { Runner } from '../runner/index.js';
import { raw, sh } from '../runner/quote.js';
import { daemonConfigSchema, type ChecksConfig } from '../daemon-config.js';
import { buildChecks } from './index.js';
import { runCheck, type CheckResult } from './result.js';
import { turnUrls } from '../turn/url.js';

/** Checks that read the machine they run on: from the operator's side they run on the host, over SSH. */
export const HOST_CHECKS = ['disk', 'system', 'pm2', 'services'] as const;
/** Checks that probe the host from outside, as callers reach it. */
export const REMOTE_CHECKS = ['tls-expiry', 'turn', 'turn-peers', 'server', 'media-probe'] as const;
export const ALL_CHECKS: readonly string[] = [...REMOTE_CHECKS, ...HOST_CHECKS];

export interface OperatorOptions {
  /** Connect here instead of resolving the host's names (before DNS points at it; the sandbox; a loopback test). */
  address?: string | undefined;
  /** nginx's HTTPS port (443). */
  httpsPort: number;
  /** Also trust this CA (a test ACME CA). */
  caFile?: string | undefined;
}


/**
 * The outside checks for a host, seen from the operator's machine: nginx and coturn at their public names (or
 * `address`), the server through nginx (/readyz is not exposed there; /status only to adminCidrs), TURN without a
 * relayed round trip (coturn relays only to the host's own address), and a real call as a caller makes it.
 */
export function operatorChecks(host: ResolvedHost, o: OperatorOptions): ChecksConfig {
  const d = host.daemon;
  const domain = host.app.domains[0] ?? '';
  const t = host.turn;
  const reach = (name: string) => o.address ?? name;
  const web = `${domain}${o.httpsPort === 443 ? '' : `:${o.httpsPort}`}`;
  const ca = o.caFile === undefined ? {} : { caFile: o.caFile };
  const loopback = o.address !== undefined && isIP(o.address) === 4 && o.address.startsWith('127.');
  // TURN over TLS on 443 is nginx's router: only where nginx really is on 443 (not a test's forwarded port).
  const tls443 = t.tls443 && o.httpsPort === 443;
  return daemonConfigSchema.shape.checks.parse({
    'tls-expiry': {
      warnDays: d.certExpiryDays, criticalDays: Math.min(7, d.certExpiryDays), ...ca,
      targets: [
        { host: reach(domain), port: o.httpsPort, servername: domain },
        { host: reach(t.domain), port: t.tlsPort, servername: t.domain },
        ...(tls443 ? [{ host: reach(t.domain), port: 443, servername: t.domain }] : []),
      ],
    },
    turn: {
      host: reach(t.domain), servername: t.domain, port: t.port, tlsPort: t.tlsPort, tls443, ...ca,
      announcedIp: host.mediasoup.announcedIp, externalIp: t.externalIp, ...(hasPublicDns(t.domain) ? { dnsName: t.domain } : {}),
    },
    'turn-peers': { host: reach(t.domain), port: t.port, ownIp: host.mediasoup.announcedIp },
    server: { url: `https://${web}`, signalingUrl: `wss://${web}/signaling`, address: o.address, readyz: false, ...ca },
    'media-probe': {
      signalingUrl: `wss://${web}/signaling`, address: o.address, ...ca,
      relayUrls: turnUrls(reach(t.domain), { ...t, tls443 }),
      relayServername: t.domain,
      // A host reached on loopback is only reachable there: gather ICE candidates on it too.
      ...(loopback ? { iceAddress: o.address } : {}),
    },
  });
}

const row = (check: string, target: string, status: CheckResult['status'], message: string): CheckResult => ({ check, target, status, message, values: {}, durationMs: 0, at: new Date().toISOString() });

/** The command that runs the installed daemon once, on the host, as the app user, for the named host checks. */
export function hostCheckScript(host: ResolvedHost, names: readonly string[]): string {
  const asApp = host.ssh.user === host.app.user ? '' : sh`sudo -n -u ${host.app.user} `;
  return [
    sh`entry=${layoutOf(host).daemonEntry}`,
    'if [ ! -f "$entry" ]; then echo rtcops-daemon-not-installed; exit 0; fi',
    // node from PATH: /usr/local/bin/node on provisioned hosts, as the daemon's unit finds it.
    sh`${raw(asApp)}node "$entry" --config ${host.app.daemonConfigFile} --once --json --only ${names.join(',')}`,
  ].join('\n');
}

/** Run the host checks on the host through SSH with the daemon and config installed there; failures become result rows. */
export async function runHostChecks(host: ResolvedHost, names: readonly string[]): Promise<CheckResult[]> {
  if (names.length === 0) return [];
  const all = (status: CheckResult['status'], message: string) => names.map((n) => row(n, host.name, status, message));
  let target: Runner;
  try {
    target = await sshTo(host)();
  } catch (error) {
    const hint = (error as { hint?: string }).hint;
    return all('critical', `cannot run on the host: SSH to ${host.ssh.user}@${host.ssh.address}:${host.ssh.port} failed: ${(error as Error).message}${hint === undefined ? '' : ` (${hint})`}`);
  }
  try {
    const r = await target.script(hostCheckScript(host, names), { allowFailure: true, summary: 'the health daemon --once' });
    if (r.stdout.trim() === 'rtcops-daemon-not-installed') {
      return all('skipped', `skipped: the health daemon is not installed on ${host.name} (npx zx scripts/provision.mjs ${host.name})`);
    }
    try {
      return (JSON.parse(r.stdout) as { results: CheckResult[] }).results;
    } catch {
      return all('critical', `the health daemon on ${host.name} failed (exit ${String(r.code)}): ${(r.stderr.trim() || r.stdout.trim()).split('\n').slice(0, 3).join(' | ')}`);
    }
  } finally {
    target.close();
  }
}

/** Rows for host checks not run (--no-ssh): said, never pretended. */
export const skippedOnHost = (host: ResolvedHost, names: readonly string[]) => names.map((n) => row(n, host.name, 'skipped', 'skipped: runs on the host (over SSH; --no-ssh was given)'));

export interface OperatorRun extends OperatorOptions {
  /** The checks to run (default: all of ALL_CHECKS). */
  only?: readonly string[];
  /** false: the host checks are listed as skipped, not run over SSH. */
  ssh?: boolean;
}

/** Every check of a host once, from the operator's machine: the outside ones from here and the host ones over SSH, at once. */
export async function runOperatorChecks(host: ResolvedHost, secrets: HostSecrets, o: OperatorRun): Promise<CheckResult[]> {
  const only = o.only ?? ALL_CHECKS;
  const remote = buildChecks(operatorChecks(host, o), { jwtSecret: secrets.jwtSecret.reveal(), adminToken: secrets.adminToken.reveal(), turnSecret: secrets.turnSecret.reveal() }).filter((c) => only.includes(c.check.name));
  const onHost = HOST_CHECKS.filter((n) => only.includes(n));
  const [outside, inside] = await Promise.all([
    Promise.all(remote.map((c) => runCheck(c.check, c.timeoutMs))),
    o.ssh === false ? skippedOnHost(host, onHost) : runHostChecks(host, onHost),
  ]);
  return [...outside.flat(), ...inside];
}
