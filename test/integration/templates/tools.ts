// Running the real programs that read rendered files: found or failed loudly, files in a temp dir.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { createSecureContext, type SecureContext } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { TurnClient } from '../../../lib/turn/client.js';
import { execa } from 'execa';
import { renderHost, type RenderedFile } from '../../../lib/render/files.js';
import type { HostSecrets, ResolvedHost } from '../../../lib/inventory/index.js';
import { exampleHost, fakeSecrets } from '../../fixtures/inventories/hosts.js';

/** Absolute path of a program, or a failed test that says which Debian package provides it. */
export function tool(name: string, debianPackage: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  assert.fail(`${name} is not installed: apt-get install ${debianPackage} (.ci/run installs it)`);
}

/** A fresh directory, removed when the test (or whoever registers `after`) ends. */
export function tempDir(t: Pick<TestContext, 'after'> | { after: (fn: () => void) => void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `rtcops-${prefix}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeFile(path: string, content: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

export function rendered(host: ResolvedHost, id: string, secrets: Partial<HostSecrets> = {}): RenderedFile {
  const file = renderHost(host, { ...fakeSecrets(host), ...secrets }).files.find((f) => f.id === id);
  assert.ok(file, `no rendered file "${id}"`);
  return file;
}

export async function run(file: string, args: string[], options: { env?: Record<string, string> } = {}) {
  const result = await execa(file, args, { reject: false, all: true, env: options.env, timeout: 30_000 });
  return { exitCode: result.exitCode, output: String(result.all ?? '') };
}

/** A self-signed certificate for the given names, made with openssl. */
export function selfSignedCert(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, 'fullchain.pem');
  const key = join(dir, 'privkey.pem');
  execFileSync(tool('openssl', 'openssl'), [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

/** A port that was free on 127.0.0.1 for both udp and tcp a moment ago. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

/**
 * The sandbox's rendered turnserver.conf run by the real coturn on 127.0.0.1 (free ports, files in a temp dir, a
 * certificate for turn.domain that `trust` verifies); `edit` changes the host first, `extraConfig` is appended. Ready when it answers STUN.
 */
export async function startCoturn(t: Pick<TestContext, 'after'>, edit: (host: ResolvedHost) => void = () => undefined, extraConfig = ''): Promise<{ port: number; tlsPort: number; secret: string; trust: SecureContext }> {
  const dir = tempDir(t, 'coturn');
  const host = exampleHost('sandbox');
  const { cert, key } = selfSignedCert(dir, host.turn.domain);
  const [port, tlsPort] = [await freePort(), await freePort()];
  Object.assign(host.turn, { listeningIps: ['127.0.0.1'], relayIp: '127.0.0.1', externalIp: '127.0.0.1', port, tlsPort, pidFile: join(dir, 'turnserver.pid'), userDbFile: join(dir, 'turndb'), logFile: 'stdout' });
  Object.assign(host.tls, { fullchain: cert, privkey: key });
  edit(host);
  const config = writeFile(join(dir, 'turnserver.conf'), rendered(host, 'turnserver').content + extraConfig);
  const turnserver = spawn(tool('turnserver', 'coturn'), ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  turnserver.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  turnserver.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  t.after(() => turnserver.kill('SIGTERM'));
  const trust = createSecureContext({ ca: readFileSync(cert) });
  for (let i = 0; ; i++) {
    const client = await TurnClient.connect({ transport: 'udp', host: '127.0.0.1', port, timeoutMs: 200 });
    const up = await client.binding().then(() => true, () => false);
    await client.close();
    if (up) return { port, tlsPort, secret: fakeSecrets(host).turnSecret.reveal(), trust };
    if (turnserver.exitCode !== null || i > 75) assert.fail(`coturn did not start (exit ${turnserver.exitCode}):\n${output}`);
    await sleep(100);
  }
}

/**
 * A real Prometheus on a rendered scrape config (written to dir/rtcops-scrape.yml), on a free loopback port: query()
 * answers `<rtcops_host> <value>` per series; waitFor() waits until a query answers exactly `expected` (sorted, joined
 * by commas), or fails with what it answered and what Prometheus said.
 */
export async function startPrometheus(t: Pick<TestContext, 'after'>, dir: string, scrape: string) {
  writeFileSync(join(dir, 'rtcops-scrape.yml'), scrape);
  const webPort = await freePort();
  const prometheus = spawn(tool('prometheus', 'prometheus'), [
    `--config.file=${join(dir, 'rtcops-scrape.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  prometheus.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  t.after(() => prometheus.kill('SIGTERM'));
  const query = async (q: string): Promise<string[]> => {
    const r = await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => undefined);
    if (r?.status !== 200) return [];
    const body = await r.json() as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return body.data.result.map((x) => `${x.metric['rtcops_host'] ?? '?'} ${x.value[1]}`);
  };
  const waitFor = async (q: string, expected: string, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last: string[] = [];
    while ((last = (await query(q)).sort()).join() !== expected) {
      if (prometheus.exitCode !== null || Date.now() > deadline) assert.fail(`${q} is ${JSON.stringify(last)}, not ${expected}; Prometheus said:\n${stderr.slice(-3000)}`);
      await sleep(250);
    }
  };
  return { query, waitFor };
}

/** A network namespace (removed after the test) with `address` on its loopback device: the host's own address, alone. */
export async function namespaceWithAddress(t: Pick<TestContext, 'after'>, ns: string, address: string): Promise<void> {
  await execa('ip', ['netns', 'del', ns], { reject: false });
  await execa('ip', ['netns', 'add', ns]);
  t.after(() => execa('ip', ['netns', 'del', ns], { reject: false }));
  await execa('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await execa('ip', ['-n', ns, 'addr', 'add', `${address}/32`, 'dev', 'lo']);
}

/**
 * `host`'s rendered turnserver.conf run by the real coturn in namespace `ns`, as its own user (the relay guard
 * matches it), listening and relaying on `address`; `turn` changes the host's turn section first. Returns its port.
 */
export async function startRenderedCoturnInNs(t: TestContext, ns: string, address: string, host: ResolvedHost, turn: Partial<ResolvedHost['turn']> = {}): Promise<number> {
  const dir = tempDir(t, 'ns-coturn');
  chmodSync(dir, 0o755);
  const state = join(dir, 'state');
  mkdirSync(state);
  const uid = Number((await execa('id', ['-u', 'turnserver'])).stdout);
  const gid = Number((await execa('id', ['-g', 'turnserver'])).stdout);
  chownSync(state, uid, gid);
  const { cert, key } = selfSignedCert(dir, host.turn.domain);
  chmodSync(key, 0o644);
  const h = structuredClone(host);
  const port = 3478;
  Object.assign(h.turn, { listeningIps: [address], relayIp: address, externalIp: address, allowedPeerIps: [address], port, tlsPort: 5349, pidFile: join(state, 'turnserver.pid'), userDbFile: join(state, 'turndb'), logFile: 'stdout' }, turn);
  Object.assign(h.tls, { fullchain: cert, privkey: key });
  const config = writeFile(join(dir, 'turnserver.conf'), rendered(h, 'turnserver').content);
  chmodSync(config, 0o644);
  const turnserver = spawn('ip', ['netns', 'exec', ns, 'runuser', '-u', 'turnserver', '--', tool('turnserver', 'coturn'), '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  turnserver.stdout.on('data', (c: Buffer) => (output += c.toString()));
  turnserver.stderr.on('data', (c: Buffer) => (output += c.toString()));
  t.after(() => turnserver.kill('SIGTERM'));
  const listening = new RegExp(`listener opened on : ${address.replaceAll('.', '\\.')}:${port}`);
  for (let i = 0; !listening.test(output) && !output.includes('Total General servers'); i++) {
    if (turnserver.exitCode !== null || i > 100) assert.fail(`coturn did not start (exit ${turnserver.exitCode}):\n${output}`);
    await sleep(100);
  }
  await sleep(300);
  return port;
}
