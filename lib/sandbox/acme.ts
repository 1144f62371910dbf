// The sandbox's own ACME server: Debian's pebble on the host side of the bridge, with pebble-challtestsrv as its
// DNS answering every name with the guest's address, so HTTP-01 validation connects to nginx in the guest.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SandboxConfigError, SandboxFailure } from './errors.js';
import {
  ACME_DNS_PORT,
  ACME_MANAGEMENT_PORT,
  ACME_PORT,
  CHALLTESTSRV_MANAGEMENT_PORT,
  type SandboxLayout,
} from './layout.js';
import { portOpen } from './network.js';
import { type Argv, isAlive, processesWithEnvironment, run, spawnDetached, tail, terminate } from './processes.js';

// Both daemons carry this in their environment: their command lines do not all name the sandbox.
const MARKER = 'RTCOPS_SANDBOX_ACME';

export interface SandboxAcme {
  directoryUrl: string;
  // The CA of pebble's HTTPS listener: what acme.caBundle points at (kept across down/up).
  caFile: string;
  // The roots pebble's certificates chain to: what acme.issuerRoots points at.
  issuerRootsFile: string;
  managementUrl: string;
  dnsServer: string;
  // Every name resolves to this address for pebble's validation.
  answers: string;
}

export interface AcmePids {
  pebblePid: number;
  challtestsrvPid: number;
}

export function acmeEndpoints(layout: SandboxLayout): SandboxAcme {
  return {
    directoryUrl: `https://${layout.hostAddress}:${ACME_PORT}/dir`,
    caFile: layout.acmeCaPath,
    issuerRootsFile: layout.acmeRootsPath,
    managementUrl: `https://${layout.hostAddress}:${ACME_MANAGEMENT_PORT}`,
    dnsServer: `${layout.hostAddress}:${ACME_DNS_PORT}`,
    answers: layout.address,
  };
}

function marker(layout: SandboxLayout): string {
  return `${MARKER}=${layout.acmeDir}`;
}

export function pebbleConfig(layout: SandboxLayout): string {
  return JSON.stringify(
    {
      pebble: {
        listenAddress: `${layout.hostAddress}:${ACME_PORT}`,
        managementListenAddress: `${layout.hostAddress}:${ACME_MANAGEMENT_PORT}`,
        certificate: path.join(layout.acmeDir, 'server.pem'),
        privateKey: path.join(layout.acmeDir, 'server.key'),
        httpPort: 80,
        tlsPort: 443,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    },
    null,
    2,
  );
}

export function challtestsrvArgv(layout: SandboxLayout): Argv {
  const at = (port: number) => `${layout.hostAddress}:${port}`;
  return [
    'pebble-challtestsrv',
    '-defaultIPv4', layout.address,
    '-defaultIPv6', '',
    '-dns01', at(ACME_DNS_PORT),
    '-http01', '',
    '-https01', '',
    '-tlsalpn01', '',
    '-management', at(CHALLTESTSRV_MANAGEMENT_PORT),
  ];
}

export function pebbleArgv(layout: SandboxLayout): Argv {
  return ['pebble', '-config', path.join(layout.acmeDir, 'pebble.json'), '-dnsserver', `${layout.hostAddress}:${ACME_DNS_PORT}`];
}

// The listener's CA, generated once per state directory and kept, so acme.caBundle stays valid across down/up.
export async function ensureAcmeCa(layout: SandboxLayout): Promise<boolean> {
  if (fs.existsSync(layout.acmeCaPath) && fs.existsSync(layout.acmeCaKeyPath)) return false;
  const scratch = fs.mkdtempSync(path.join(layout.stateDir, '.pebble-ca-'));
  try {
    const key = path.join(scratch, 'ca.key');
    const cert = path.join(scratch, 'ca.pem');
    await run([
      'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '3650',
      '-subj', '/CN=rtcops sandbox ACME CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', key, '-out', cert,
    ]);
    fs.chmodSync(key, 0o600);
    fs.renameSync(key, layout.acmeCaKeyPath);
    fs.renameSync(cert, layout.acmeCaPath);
    return true;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

// pebble's HTTPS certificate for the host address, signed by the kept CA; new on every start (cheap).
async function issueServerCert(layout: SandboxLayout): Promise<void> {
  const file = (name: string) => path.join(layout.acmeDir, name);
  await run([
    'openssl', 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', `/CN=${layout.hostAddress}`, '-keyout', file('server.key'), '-out', file('server.csr'),
  ]);
  fs.chmodSync(file('server.key'), 0o600);
  fs.writeFileSync(file('server.ext'), `subjectAltName=IP:${layout.hostAddress}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  await run([
    'openssl', 'x509', '-req', '-in', file('server.csr'), '-CA', layout.acmeCaPath, '-CAkey', layout.acmeCaKeyPath,
    '-set_serial', `0x${randomBytes(12).toString('hex')}`, '-days', '825', '-extfile', file('server.ext'), '-out', file('server.pem'),
  ]);
}

async function waitForPorts(layout: SandboxLayout, ports: number[], pid: number, what: string, log: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) break;
    const open = await Promise.all(ports.map((port) => portOpen(layout.hostAddress, port, 300)));
    if (open.every(Boolean)) return;
    await sleep(50);
  }
  throw new SandboxFailure(`${what} did not listen on ${layout.hostAddress}:${ports.join(',')}\n${tail(log)}`);
}

// Starts pebble-challtestsrv, then pebble; returns their pids. The caller stops them with stopAcme on failure.
export async function startAcme(layout: SandboxLayout, options: { keepRoots?: boolean } = {}): Promise<AcmePids> {
  const ports = [ACME_PORT, ACME_MANAGEMENT_PORT, ACME_DNS_PORT, CHALLTESTSRV_MANAGEMENT_PORT];
  for (const port of ports) {
    if (await portOpen(layout.hostAddress, port, 300)) {
      throw new SandboxConfigError(`${layout.hostAddress}:${port} is already in use: another ACME server (a test's pebble?) runs on this sandbox's bridge`);
    }
  }
  fs.mkdirSync(layout.acmeDir, { recursive: true, mode: 0o700 });
  await issueServerCert(layout);
  fs.writeFileSync(path.join(layout.acmeDir, 'pebble.json'), pebbleConfig(layout) + '\n');
  const dnsLog = path.join(layout.acmeDir, 'challtestsrv.log');
  const pebbleLog = path.join(layout.acmeDir, 'pebble.log');
  fs.writeFileSync(dnsLog, '');
  fs.writeFileSync(pebbleLog, '');
  const env = { [MARKER]: layout.acmeDir };
  const challtestsrvPid = spawnDetached(challtestsrvArgv(layout), dnsLog, env);
  await waitForPorts(layout, [CHALLTESTSRV_MANAGEMENT_PORT], challtestsrvPid, 'pebble-challtestsrv', dnsLog);
  // No random validation delays and no random nonce rejections: this server is for rehearsals, not for fuzzing clients.
  const pebblePid = spawnDetached(pebbleArgv(layout), pebbleLog, { ...env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' });
  await waitForPorts(layout, [ACME_PORT, ACME_MANAGEMENT_PORT], pebblePid, 'pebble', pebbleLog);
  await saveIssuerRoots(layout, options.keepRoots !== false);
  return { pebblePid, challtestsrvPid };
}

async function fetchPem(url: string, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => (res.statusCode === 200 && body.includes('BEGIN CERTIFICATE') ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode ?? '?'}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
  });
}

/** How many of the latest pebble roots the roots file keeps. */
const KEPT_ROOTS = 5;

/**
 * pebble generates a new root (and intermediate) at every start. Save the root its certificates chain to, after the
 * roots of the last few runs: a running guest whose pebble is restarted still has a certificate from the old one, and
 * so has a fresh sandbox that a backup was restored onto (restore.mjs puts the certificate back, as it puts a Let's
 * Encrypt certificate back whose root is still trusted). With keepRoots: false the file starts over.
 */
async function saveIssuerRoots(layout: SandboxLayout, keep: boolean): Promise<void> {
  const root = (await fetchPem(`https://${layout.hostAddress}:${ACME_MANAGEMENT_PORT}/roots/0`, fs.readFileSync(layout.acmeCaPath))).trim();
  const previous = keep && fs.existsSync(layout.acmeRootsPath) ? fs.readFileSync(layout.acmeRootsPath, 'utf8') : '';
  const roots = [...previous.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => m[0]).filter((r) => r !== root);
  const pem = `${[...roots.slice(-(KEPT_ROOTS - 1)), root].join('\n')}\n`;
  fs.writeFileSync(`${layout.acmeRootsPath}.tmp`, pem, { mode: 0o644 });
  fs.renameSync(`${layout.acmeRootsPath}.tmp`, layout.acmeRootsPath);
}

export function acmeProcesses(layout: SandboxLayout): number[] {
  return processesWithEnvironment(marker(layout));
}

// Both recorded daemons still run (and are this sandbox's, not a reused pid).
export function acmeAlive(layout: SandboxLayout, pids: Partial<AcmePids> | undefined): boolean {
  if (pids?.pebblePid === undefined || pids.challtestsrvPid === undefined) return false;
  const running = acmeProcesses(layout);
  return running.includes(pids.pebblePid) && running.includes(pids.challtestsrvPid);
}

// Stops both daemons of this sandbox (found by their marker, so also ones a crashed run forgot); true when any ran.
export async function stopAcme(layout: SandboxLayout): Promise<boolean> {
  const pids = acmeProcesses(layout);
  if (pids.length === 0) return false;
  await terminate(pids, 5_000);
  return true;
}
