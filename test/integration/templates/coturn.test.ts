import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, createSecureContext } from 'node:tls';
import { TurnClient, TurnError } from '../../../lib/turn/client.js';
import { mintTurnCredentials } from '../../../lib/turn/credentials.js';
import type { RenderedFile } from '../../../lib/render/files.js';
import { Secret, type HostSecrets } from '../../../lib/inventory/index.js';
import { exampleHost } from '../../fixtures/inventories/hosts.js';
import { freePort, rendered, selfSignedCert, tempDir, tool, writeFile } from './tools.js';

const MAGIC_COOKIE = 0x2112a442;

interface StunMessage {
  type: number;
  transactionId: Buffer;
  attributes: Map<number, Buffer>;
}

function attribute(type: number, value: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16BE(type, 0);
  header.writeUInt16BE(value.length, 2);
  return Buffer.concat([header, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}

/** A STUN request; with a key, signed with MESSAGE-INTEGRITY (RFC 5389 15.4) as TURN long-term credentials need. */
function stunRequest(type: number, attributes: [number, Buffer][] = [], key?: Buffer): { packet: Buffer; transactionId: Buffer } {
  const body = Buffer.concat(attributes.map(([attr, value]) => attribute(attr, value)));
  const transactionId = randomBytes(12);
  const header = Buffer.alloc(8);
  header.writeUInt16BE(type, 0);
  header.writeUInt16BE(body.length + (key ? 24 : 0), 2);
  header.writeUInt32BE(MAGIC_COOKIE, 4);
  const message = Buffer.concat([header, transactionId, body]);
  if (key === undefined) return { packet: message, transactionId };
  return { packet: Buffer.concat([message, attribute(0x0008, createHmac('sha1', key).update(message).digest())]), transactionId };
}

function xorPeerAddress(ip: string, port: number): Buffer {
  const value = Buffer.alloc(8);
  value.writeUInt16BE(0x0001, 0);
  value.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 2);
  value.writeUInt32BE((ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0) ^ MAGIC_COOKIE) >>> 0, 4);
  return value;
}

const errorCode = (m: StunMessage) => {
  const e = m.attributes.get(0x0009);
  return e === undefined ? undefined : (e[2] ?? 0) * 100 + (e[3] ?? 0);
};

function parseStun(packet: Buffer): StunMessage {
  const attributes = new Map<number, Buffer>();
  for (let offset = 20; offset + 4 <= packet.length; ) {
    const type = packet.readUInt16BE(offset);
    const length = packet.readUInt16BE(offset + 2);
    attributes.set(type, packet.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length + ((4 - (length % 4)) % 4);
  }
  return { type: packet.readUInt16BE(0), transactionId: packet.subarray(8, 20), attributes };
}

async function exchange(port: number, packet: Buffer, timeoutMs = 1000): Promise<{ reply: StunMessage; localPort: number }> {
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const reply = new Promise<Buffer>((resolve, reject) => {
      socket.once('message', resolve);
      setTimeout(() => reject(new Error(`no STUN reply within ${timeoutMs} ms`)), timeoutMs).unref();
    });
    socket.send(packet, port, '127.0.0.1');
    return { reply: parseStun(await reply), localPort: socket.address().port };
  } finally {
    socket.close();
  }
}

/** One UDP client socket, so an allocation and its permissions share a 5-tuple. */
async function client() {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    request(port: number, packet: Buffer): Promise<StunMessage> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no TURN reply within 1 s')), 1000);
        socket.once('message', (data) => {
          clearTimeout(timer);
          resolve(parseStun(data));
        });
        socket.send(packet, port, '127.0.0.1');
      });
    },
    close: () => socket.close(),
  };
}

/** Renders turnserver.conf for the sandbox host (TEST variant: loopback, free ports, temp files) and runs it. */
async function startRendered(cleanups: (() => void)[], secrets: Partial<HostSecrets> = {}): Promise<{ port: number; tlsPort: number; file: RenderedFile; cert: string }> {
  const dir = tempDir({ after: (fn: () => void) => cleanups.push(fn) }, 'coturn');
  const host = exampleHost('sandbox');
  const { cert, key } = selfSignedCert(dir, host.turn.domain);
  const [port, tlsPort] = [await freePort(), await freePort()];
  // Production values stay in the golden files.
  Object.assign(host.turn, { listeningIps: ['127.0.0.1'], relayIp: '127.0.0.1', externalIp: '127.0.0.1', port, tlsPort, pidFile: join(dir, 'turnserver.pid'), userDbFile: join(dir, 'turndb'), logFile: 'stdout' });
  Object.assign(host.tls, { fullchain: cert, privkey: key });
  const file = rendered(host, 'turnserver', secrets);
  const config = writeFile(join(dir, 'turnserver.conf'), file.content);
  const turnserver = spawn(tool('turnserver', 'coturn'), ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  turnserver.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  turnserver.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  cleanups.push(() => turnserver.kill('SIGTERM'));
  for (let i = 0; i < 40; i++) {
    if (await exchange(port, stunRequest(0x0001).packet, 100).then(() => true, () => false)) return { port, tlsPort, file, cert };
    if (turnserver.exitCode !== null) break;
    await sleep(50);
  }
  assert.fail(`turnserver did not answer STUN on 127.0.0.1:${port}:\n${output}`);
}

/** An authenticated UDP Allocate with REST credentials minted from `secret`: the response type and error code. */
async function allocateWith(port: number, secret: string): Promise<{ ok: boolean; error: number | undefined }> {
  const { username, password } = mintTurnCredentials(secret, 'probe', 600);
  const turn = await client();
  try {
    const transport: [number, Buffer] = [0x0019, Buffer.from([17, 0, 0, 0])];
    const challenge = await turn.request(port, stunRequest(0x0003, [transport]).packet);
    const realm = challenge.attributes.get(0x0014) ?? Buffer.alloc(0);
    const nonce = challenge.attributes.get(0x0015) ?? Buffer.alloc(0);
    const key = createHash('md5').update(`${username}:${realm.toString()}:${password}`).digest();
    const reply = await turn.request(port, stunRequest(0x0003, [transport, [0x0006, Buffer.from(username)], [0x0014, realm], [0x0015, nonce]], key).packet);
    return { ok: reply.type === 0x0103, error: errorCode(reply) };
  } finally {
    turn.close();
  }
}

describe('coturn: turnserver runs the rendered turnserver.conf on loopback', () => {
  let port = 0;
  let tlsPort = 0;
  let file: RenderedFile;
  let cert = '';
  const cleanups: (() => void)[] = [];
  after(() => cleanups.reverse().forEach((cleanup) => cleanup()));

  before(async () => {
    ({ port, tlsPort, file, cert } = await startRendered(cleanups));
  });

  test('the rendered file is marked secret-bearing and holds the shared secret', () => {
    assert.equal(file.secret, true);
    assert.match(file.content, /^static-auth-secret=test-turn-secret-not-real-0+$/m);
  });

  test('answers a STUN Binding request with our address (XOR-MAPPED-ADDRESS)', async () => {
    const { packet, transactionId } = stunRequest(0x0001);
    const { reply, localPort } = await exchange(port, packet);
    assert.equal(reply.type, 0x0101, 'Binding Success Response');
    assert.deepEqual(reply.transactionId, transactionId);
    const mapped = reply.attributes.get(0x0020);
    assert.ok(mapped, 'XOR-MAPPED-ADDRESS present');
    assert.equal(mapped.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16), localPort);
    assert.equal([...mapped.subarray(4, 8)].map((b, i) => b ^ ((MAGIC_COOKIE >>> (24 - 8 * i)) & 0xff)).join('.'), '127.0.0.1');
    assert.ok(reply.attributes.has(0x8028), 'FINGERPRINT (fingerprint)');
    assert.ok(!reply.attributes.has(0x8022), 'no SOFTWARE attribute (no-software-attribute)');
  });

  test('refuses an Allocate without credentials: 401 with the inventory realm', async () => {
    const udp = Buffer.from([17, 0, 0, 0]);
    const { reply } = await exchange(port, stunRequest(0x0003, [[0x0019, udp]]).packet);
    assert.equal(reply.type, 0x0113, 'Allocate Error Response');
    assert.equal(errorCode(reply), 401);
    assert.equal(reply.attributes.get(0x0014)?.toString(), 'turn.sandbox.test');
  });

  test('serves TLS on the TURN TLS port with the configured certificate', async () => {
    const socket = connect({ host: '127.0.0.1', port: tlsPort, rejectUnauthorized: false, servername: 'turn.sandbox.test' });
    try {
      await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      assert.match(socket.getProtocol() ?? '', /^TLSv1\.[23]$/);
      assert.equal(socket.getPeerCertificate().subject.CN, 'turn.sandbox.test');
    } finally {
      socket.destroy();
    }
  });

  test('relays only to allowed peers: the server itself yes; private, loopback, link-local (metadata) and CGNAT no', async () => {
    const { username, password } = mintTurnCredentials('test-turn-secret-not-real-000000000000000', 'probe', 600);
    const turn = await client();
    try {
      const transport: [number, Buffer] = [0x0019, Buffer.from([17, 0, 0, 0])];
      const challenge = await turn.request(port, stunRequest(0x0003, [transport]).packet);
      assert.equal(errorCode(challenge), 401);
      const realm = challenge.attributes.get(0x0014) ?? Buffer.alloc(0);
      const nonce = challenge.attributes.get(0x0015) ?? Buffer.alloc(0);
      const key = createHash('md5').update(`${username}:${realm.toString()}:${password}`).digest();
      const auth: [number, Buffer][] = [[0x0006, Buffer.from(username)], [0x0014, realm], [0x0015, nonce]];

      const allocation = await turn.request(port, stunRequest(0x0003, [transport, ...auth], key).packet);
      assert.equal(allocation.type, 0x0103, `Allocate succeeds with REST credentials (error ${errorCode(allocation)})`);

      const permission = async (ip: string) => errorCode(await turn.request(port, stunRequest(0x0008, [[0x0012, xorPeerAddress(ip, 9)], ...auth], key).packet)) ?? 200;
      const cases: [ip: string, status: number][] = [
        ['10.77.0.2', 200],
        ['169.254.169.254', 403],
        ['10.0.0.1', 403],
        ['127.0.0.1', 403],
        ['192.168.1.1', 403],
        ['100.64.0.1', 403],
        ['172.16.0.1', 403],
      ];
      for (const [ip, status] of cases) assert.equal(await permission(ip), status, ip);
    } finally {
      turn.close();
    }
  });
  test('refuses TCP relay allocations (RFC 6062; no-tcp-relay): 442 over TCP and TLS, while UDP relays over both still work', async () => {
    const { username, password } = mintTurnCredentials('test-turn-secret-not-real-000000000000000', 'probe', 600);
    const outcomes: Record<string, string> = {};
    for (const [transport, to] of [['tcp', port], ['tls', tlsPort]] as const) {
      for (const relay of ['tcp', 'udp'] as const) {
        const secureContext = createSecureContext({ ca: readFileSync(cert) });
        const turn = await TurnClient.connect({ transport, host: '127.0.0.1', port: to, servername: 'turn.sandbox.test', secureContext, timeoutMs: 3000 });
        try {
          const allocation = await turn.allocate(username, password, 60, relay);
          outcomes[`${relay} relay over ${transport}`] = `allocated on ${allocation.relayed.ip}`;
        } catch (err) {
          outcomes[`${relay} relay over ${transport}`] = err instanceof TurnError ? `refused ${err.code}` : String(err);
        } finally {
          await turn.close();
        }
      }
    }
    assert.deepEqual(outcomes, {
      'tcp relay over tcp': 'refused 442',
      'udp relay over tcp': 'allocated on 127.0.0.1',
      'tcp relay over tls': 'refused 442',
      'udp relay over tls': 'allocated on 127.0.0.1',
    });
  });
});

describe('coturn during a TURN secret rotation (secrets.turnSecretPrevious)', () => {
  const cleanups: (() => void)[] = [];
  after(() => cleanups.reverse().forEach((cleanup) => cleanup()));
  const NEW = 'test-turn-secret-not-real-000000000000000';
  const OLD = 'the-old-turn-secret-being-rotated-0000000';
  let port = 0;
  before(async () => {
    ({ port } = await startRendered(cleanups, { turnSecretPrevious: new Secret(OLD) }));
  });

  test('credentials minted with the new secret and with the previous one are both accepted', async () => {
    assert.deepEqual(await allocateWith(port, NEW), { ok: true, error: undefined });
    assert.deepEqual(await allocateWith(port, OLD), { ok: true, error: undefined });
  });

  test('credentials minted with any other secret are still refused (401)', async () => {
    assert.deepEqual(await allocateWith(port, 'some-third-secret-nobody-configured-00000'), { ok: false, error: 401 });
  });
});

describe('coturn after the rotation (no previous secret)', () => {
  const cleanups: (() => void)[] = [];
  after(() => cleanups.reverse().forEach((cleanup) => cleanup()));
  test('credentials minted with the old secret are refused (401)', async () => {
    const { port } = await startRendered(cleanups);
    assert.deepEqual(await allocateWith(port, 'the-old-turn-secret-being-rotated-0000000'), { ok: false, error: 401 });
  });
});
