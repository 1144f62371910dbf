// The inventory the end-to-end suites provision a sandbox with: one host on the sandbox's bridge, the same app, media
// and TURN ports everywhere; each suite says only what differs (its secrets' env names, its ACME server, its deploy).
import type { SandboxOs, SandboxUpResult } from '../../lib/sandbox/index.js';

export interface SandboxInventoryOptions {
  /** The env variables the host's secrets are read from (the suite sets them). */
  secretsEnv: { jwtSecret: string; adminToken: string; turnSecret: string };
  /** caBundle: the ACME server's CA (a local Pebble); issuerRoots: the roots its certificates chain to. */
  acme: { directoryUrl: string; caBundle?: string; issuerRoots?: string };
  app?: { name?: string; drainTimeoutMs?: number };
  /** The host's `deploy:` keys (gate, watch, drain, releases kept). */
  deploy?: Record<string, number>;
}

const flow = (entries: [string, string | number | undefined][]) =>
  `{ ${entries.filter((e): e is [string, string | number] => e[1] !== undefined).map(([k, v]) => `${k}: ${v}`).join(', ')} }`;

export function sandboxInventoryYaml(name: string, os: SandboxOs, sb: SandboxUpResult, o: SandboxInventoryOptions): string {
  const { acme, secretsEnv: env, app = {} } = o;
  const deploy = o.deploy === undefined ? '' : `    deploy: ${flow(Object.entries(o.deploy))}\n`;
  return `
hosts:
  ${name}:
    os: ${os}
    adminCidrs: [${sb.hostAddress}/32]
    ssh: { address: ${sb.address}, user: ${sb.user}, keyPath: ${sb.keyPath}, knownHostsFile: ${sb.knownHostsPath} }
    acme: ${flow([['email', 'ops@sandbox.test'], ['directoryUrl', acme.directoryUrl], ['caBundle', acme.caBundle], ['issuerRoots', acme.issuerRoots]])}
    secrets:
      jwtSecret: { env: ${env.jwtSecret} }
      adminToken: { env: ${env.adminToken} }
      turnSecret: { env: ${env.turnSecret} }
    app: ${flow([['name', app.name ?? 'rtcops'], ['user', 'rtcops'], ['port', 3000], ['domains', '[rtc.sandbox.test]'], ['numWorkers', 1], ['drainTimeoutMs', app.drainTimeoutMs]])}
    mediasoup: { announcedIp: ${sb.address}, rtcPorts: { min: 40000, max: 40999 } }
    turn: { domain: turn.sandbox.test, relayPorts: { min: 50000, max: 50999 } }
    # The suites open more than 6 SSH connections within 30 s (runs, lockout proofs, deploys, checks); ufw "limit" would refuse them.
    firewall: { sshRateLimit: false }
    node: { source: upload }
${deploy}`;
}
