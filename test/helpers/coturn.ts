import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './process.js';

export interface Coturn {
  port: number;
  tlsPort: number;
  realm: string;
  /** Everything coturn printed so far. */
  output: () => string;
  stop: () => Promise<void>;
}

export interface CoturnOptions {
  dir: string;
  secret: string;
  cert: string;
  key: string;
  /** Deny relaying to private ranges as production does (false: a misconfigured server that relays anywhere). */
  denyPrivatePeers?: boolean;
  realm?: string;
  /** Where coturn listens and relays from (default 127.0.0.1): a browser in a test namespace reaches it at the host end of its veth. */
  listenIp?: string;
  /** Fixed ports (to restart on the same ones); free ports otherwise. */
  port?: number;
  tlsPort?: number;
}

// Relay ports are handed out by coturn; one small range per test run keeps parallel runs apart.
async function relayRange(): Promise<[number, number]> {
  const base = 20000 + Math.floor(Math.random() * 400) * 100;
  return [base, base + 99];
}

function accepts(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host, () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * A real coturn on 127.0.0.1 (foreground, temp files only), configured like production except that the
 * daemon's loopback peer is allowed: `allow-loopback-peers` and `allowed-peer-ip=127.0.0.1` are TEST-ONLY.
 */
export async function startCoturn(o: CoturnOptions): Promise<Coturn> {
  const port = o.port ?? (await freePort());
  const tlsPort = o.tlsPort ?? (await freePort());
  const [minPort, maxPort] = await relayRange();
  const realm = o.realm ?? 'turn.rtcops.test';
  const conf = join(o.dir, `turnserver-${port}.conf`);
  writeFileSync(conf, [
    `listening-ip=${o.listenIp ?? '127.0.0.1'}`, `relay-ip=${o.listenIp ?? '127.0.0.1'}`, `listening-port=${port}`, `tls-listening-port=${tlsPort}`,
    `alt-listening-port=${await freePort()}`, `alt-tls-listening-port=${await freePort()}`,
    `min-port=${minPort}`, `max-port=${maxPort}`, `realm=${realm}`, 'use-auth-secret', `static-auth-secret=${o.secret}`,
    'fingerprint', 'no-cli', 'no-dtls', 'no-multicast-peers', 'no-software-attribute', 'log-file=stdout', 'simple-log',
    `pidfile=${join(o.dir, `turnserver-${port}.pid`)}`, `userdb=${join(o.dir, `turndb-${port}`)}`,
    `cert=${o.cert}`, `pkey=${o.key}`,
    ...(o.denyPrivatePeers === false ? [] : ['denied-peer-ip=10.0.0.0-10.255.255.255', 'denied-peer-ip=172.16.0.0-172.31.255.255', 'denied-peer-ip=192.168.0.0-192.168.255.255']),
    'allow-loopback-peers', 'allowed-peer-ip=127.0.0.1',
    '',
  ].join('\n'));
  const child: ChildProcess = spawn('turnserver', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 5000;
  // Ready when both TCP listeners accept connections.
  while (!(await accepts(port, o.listenIp ?? '127.0.0.1')) || !(await accepts(tlsPort, o.listenIp ?? '127.0.0.1'))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`coturn did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port, tlsPort, realm,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
