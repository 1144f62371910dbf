import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestAcme {
  directoryUrl: string;
  /** CA of pebble's own HTTPS listener: what certbot must trust (acme.caBundle). */
  caFile: string;
  /** Fetches the root that pebble signs issued certificates with. */
  issuerRoot: () => Promise<string>;
  stop: () => Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

async function waitForPort(host: string, port: number, what: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited: ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, host, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${host}:${port}: ${log()}`);
}

/**
 * Debian's pebble (a local ACME server) on `listen` (e.g. the sandbox bridge address), with pebble-challtestsrv as
 * its DNS answering every name with `answerIp`, so HTTP-01 validation really connects to nginx at that address.
 */
export async function startPebble(listen: string, answerIp: string): Promise<TestAcme> {
  const dir = mkdtempSync(join(tmpdir(), 'rtcops-pebble-'));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=rtcops test ACME CA', '-keyout', 'ca.key', '-out', 'ca.pem'], dir);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${listen}`, '-keyout', 'server.key', '-out', 'server.csr'], dir);
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=IP:${listen}\n`);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem'], dir);
  writeFileSync(join(dir, 'pebble.json'), JSON.stringify({
    pebble: {
      listenAddress: `${listen}:14000`, managementListenAddress: `${listen}:15000`,
      certificate: join(dir, 'server.pem'), privateKey: join(dir, 'server.key'),
      httpPort: 80, tlsPort: 443, ocspResponderURL: '', externalAccountBindingRequired: false,
    },
  }));
  let log = '';
  const dns = spawn('pebble-challtestsrv', ['-defaultIPv4', answerIp, '-defaultIPv6', '', '-dns01', `${listen}:8053`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `${listen}:8055`], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pebble = spawn('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `${listen}:8053`], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const c of [dns, pebble]) {
    c.stdout?.on('data', (d: Buffer) => { log += d.toString(); });
    c.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  }
  const stop = async () => {
    for (const c of [pebble, dns]) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM');
        await new Promise((r) => c.once('exit', r));
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(listen, 8055, 'pebble-challtestsrv', dns, () => log);
    await waitForPort(listen, 14000, 'pebble', pebble, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    directoryUrl: `https://${listen}:14000/dir`,
    caFile: join(dir, 'ca.pem'),
    issuerRoot: async () => {
      const r = spawnSync('curl', ['-sf', '--cacert', join(dir, 'ca.pem'), `https://${listen}:15000/roots/0`], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`could not fetch pebble's root: ${r.stderr}`);
      return r.stdout;
    },
    stop,
  };
}
