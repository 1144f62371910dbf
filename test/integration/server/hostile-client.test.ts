import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import pino from 'pino';
import { clientCall } from '../../../server/mediasoup-calls.js';
import { SignalingError } from '../../../server/protocol.js';
import { freePort, spawnServer } from '../../helpers/process.js';
import {
  SignalingClient, clientDtlsParameters, eventually, opusRtpCapabilities, opusRtpParameters, startTestServer, statusCounts, testEnv, token, type TestServer,
} from '../../helpers/server.js';

const join = async (url: string, sub: string, room = 'r') => {
  const c = await SignalingClient.connect(`${url}?token=${token({ sub, room })}`);
  await c.request('join', { rtpCapabilities: opusRtpCapabilities });
  return c;
};
const sendTransport = async (c: SignalingClient) => {
  const { transportId } = await c.request<{ transportId: string }>('createWebRtcTransport', { direction: 'send' });
  await c.request('connectTransport', { transportId, dtlsParameters: clientDtlsParameters });
  return transportId;
};
const rtp = (ssrc: number, mid: string, encoding: Record<string, unknown> = {}) => ({ ...opusRtpParameters(ssrc), mid, encodings: [{ ssrc, ...encoding }] });
const errorsLogged = (s: { logs: Record<string, unknown>[] }) => s.logs.filter((l) => (l['level'] as number) >= 50);

/** Sends one raw HTTP request; resolves with the response's status, or -1 if the server closed without one. */
function rawRequest(port: number, request: string, dropAfterWrite = false): Promise<number> {
  return new Promise((resolve) => {
    const sock = tcpConnect(port, '127.0.0.1', () => {
      sock.write(request);
      if (dropAfterWrite) sock.destroy();
    });
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
      if (m !== null) { sock.destroy(); resolve(Number(m[1])); }
    });
    sock.on('close', () => resolve(-1));
    sock.on('error', () => resolve(-1));
  });
}

/** A masked client text frame (RFC 6455 5.3), for a client that writes frames no matter what the server says. */
function maskedFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)))]);
}

const socketsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).filter((fd) => {
  try { return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:'); } catch { return false; }
}).length;

describe('issue 15: one peer cannot break a worker or the process', () => {
  it('produce with encodings[0].maxBitrate null, 1.5, "x" or {} is refused before mediasoup; other rooms keep working; the process survives the peer leaving', async () => {
    const port = await freePort();
    const srv = spawnServer(testEnv({ PORT: String(port), NUM_WORKERS: '1' }));
    try {
      await srv.waitForLog('listening');
      const url = `ws://127.0.0.1:${port}/signaling`;
      const attacker = await join(url, 'mallory', 'r1');
      const transportId = await sendTransport(attacker);
      for (const maxBitrate of [null, 1.5, 'x', {}]) {
        const r = await attacker.call('produce', { transportId, kind: 'audio', rtpParameters: rtp(1, '0', { maxBitrate }) });
        assert.equal(r.error?.code, 'bad_request', `maxBitrate ${JSON.stringify(maxBitrate)}`);
        assert.match(r.error?.message ?? '', /encodings\.0\.maxBitrate/);
      }
      const bystander = await join(url, 'alice', 'r2');
      const t = await sendTransport(bystander);
      assert.ok(await bystander.request('produce', { transportId: t, kind: 'audio', rtpParameters: rtp(7, '0') }), 'the worker still serves another room');
      await attacker.close();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(srv.child.exitCode, null, 'the process is still running');
      assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
      assert.ok(await bystander.request('createWebRtcTransport', { direction: 'recv' }));
      assert.deepEqual(srv.logs.filter((l) => (l['level'] as number) >= 50), []);
      await bystander.close();
    } finally {
      srv.child.kill('SIGKILL');
    }
  });

  it('a request mediasoup fails to build half-way leaves the worker usable (clientCall resets its FlatBuffers builder)', async () => {
    const worker = await mediasoup.createWorker({ logLevel: 'none' });
    try {
      const router = await worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] });
      const listenInfos: types.TransportListenInfo[] = [{ protocol: 'udp', ip: '127.0.0.1' }];
      const transport = await router.createWebRtcTransport({ listenInfos });
      // Straight to mediasoup, past the schemas: the value that breaks its request builder.
      const broken = { ...opusRtpParameters(1), encodings: [{ ssrc: 1, maxBitrate: null }] } as unknown as types.RtpParameters;
      await assert.rejects(clientCall(transport, 'rtpParameters', () => transport.produce({ kind: 'audio', rtpParameters: broken })), (e: unknown) => e instanceof SignalingError && e.code === 'bad_request');
      const next = await router.createWebRtcTransport({ listenInfos });
      assert.ok(next.id, 'the next request to the worker is built and answered');
      transport.close();
      next.close();
      assert.ok((await worker.getResourceUsage()).ru_maxrss > 0);
    } finally {
      worker.close();
    }
  });
});

describe('admission gives back what an aborted handshake held', () => {
  let s: TestServer;
  before(async () => { s = await startTestServer({ MAX_CONNECTIONS_PER_IP: '3' }); });
  after(() => s.stop());

  it('bad keys, POSTs, bad versions, bad subprotocols and dropped handshakes with a valid token leave no IP slot and no room behind', async () => {
    const handshake = (over: Record<string, string>, method = 'GET') => {
      const headers = { Host: '127.0.0.1', Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...over };
      return `${method} /signaling?token=${token({ sub: 'h', room: 'aborted' })} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
    };
    const attempts: [string, string, boolean, number][] = [
      ['an invalid Sec-WebSocket-Key', handshake({ 'Sec-WebSocket-Key': 'short' }), false, 400],
      ['a POST', handshake({}, 'POST'), false, 405],
      ['version 99', handshake({ 'Sec-WebSocket-Version': '99' }), false, 400],
      ['an invalid subprotocol list', handshake({ 'Sec-WebSocket-Protocol': 'a,,b' }), false, 400],
      ['a client that leaves mid-handshake', handshake({}), true, -1],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [name, request, drop, status] of attempts) assert.equal(await rawRequest(s.port, request, drop), status, name);
    }
    const counts = await eventually(() => statusCounts(s.http), (c) => Object.values(c).every((n) => n === 0), 5000, 'no room left');
    assert.deepEqual(counts, { rooms: 0, peers: 0, transports: 0, producers: 0, consumers: 0 });
    const open = await Promise.all([1, 2, 3].map((i) => SignalingClient.connect(`${s.ws}?token=${token({ sub: `p${i}`, room: 'after' })}`)));
    await Promise.all(open.map((c) => c.close()));
  });
});

describe('races leak nothing', () => {
  let s: TestServer;
  let workerPid: number;
  before(async () => {
    s = await startTestServer({ MAX_CONNECTIONS_PER_IP: '100', MESSAGE_BURST: '1000', MAX_MESSAGES_PER_SECOND: '1000' });
    workerPid = s.logs.find((l) => l['event'] === 'worker_started')?.['workerPid'] as number;
  });
  after(() => s.stop());

  it('a transport created while its peer is replaced by a second connection is closed, not kept (worker sockets back to where they were)', async () => {
    // Someone else stays in the room, so its router (and anything orphaned on it) stays open.
    const bystander = await join(s.ws, 'bystander', 'race');
    const baseline = socketsOf(workerPid);
    for (let i = 0; i < 30; i++) {
      const first = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'racer', room: 'race' })}`);
      const pending = first.call('createWebRtcTransport', { direction: 'send' });
      const second = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'racer', room: 'race' })}`);
      assert.equal((await first.closed).code, 4409);
      await pending;
      await second.close();
    }
    await eventually(() => statusCounts(s.http), (c) => c.peers === 1 && c.transports === 0, 3000, '/status back to the bystander alone');
    await eventually(() => socketsOf(workerPid), (n) => n === baseline, 3000, `worker ${workerPid} sockets back to ${baseline}`);
    await bystander.close();
  });

  it('a socket dropped during produce: no newProducer after its peerLeft, no producer left behind', async () => {
    const observer = await join(s.ws, 'observer', 'drop');
    for (let i = 0; i < 20; i++) {
      const dropper = await join(s.ws, `d${i}`, 'drop');
      const transportId = await sendTransport(dropper);
      dropper.ws.send(JSON.stringify({ id: 99, method: 'produce', data: { transportId, kind: 'audio', rtpParameters: rtp(1000 + i, '0') } }));
      dropper.ws.terminate();
      await observer.waitFor('peerLeft', (n) => n.data['peerId'] === `d${i}`);
    }
    await new Promise((r) => setTimeout(r, 300));
    const names = observer.notifications.map((n) => `${n.notification}:${String(n.data['peerId'])}`);
    for (let i = 0; i < 20; i++) {
      const left = names.indexOf(`peerLeft:d${i}`);
      assert.equal(names.indexOf(`newProducer:d${i}`, left), -1, `no newProducer from d${i} after it left`);
    }
    assert.deepEqual(await statusCounts(s.http), { rooms: 1, peers: 1, transports: 0, producers: 0, consumers: 0 });
    await observer.close();
  });
});

describe('per-peer bounds on transports, producers and consumers', () => {
  let s: TestServer;
  before(async () => { s = await startTestServer({ MAX_TRANSPORTS_PER_PEER: '2', MAX_PRODUCERS_PER_PEER: '2', MAX_CONSUMERS_PER_PEER: '2' }); });
  after(() => s.stop());

  it('refuses past each limit with forbidden, and a second consumer of one producer with conflict', async () => {
    const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((p) => join(s.ws, p, 'bounds')));
    assert.ok(alice && bob && carol);
    const t = await sendTransport(alice);
    await alice.request('createWebRtcTransport', { direction: 'recv' });
    const produced = [await alice.request<{ producerId: string }>('produce', { transportId: t, kind: 'audio', rtpParameters: rtp(1, '0') }), await alice.request<{ producerId: string }>('produce', { transportId: t, kind: 'audio', rtpParameters: rtp(2, '1') })];
    const carols = await carol.request<{ producerId: string }>('produce', { transportId: await sendTransport(carol), kind: 'audio', rtpParameters: rtp(3, '0') });
    const { transportId: recv } = await bob.request<{ transportId: string }>('createWebRtcTransport', { direction: 'recv' });
    const cases: [string, SignalingClient, string, Record<string, unknown>, string | undefined, RegExp | undefined][] = [
      ['a third transport', alice, 'createWebRtcTransport', { direction: 'send' }, 'forbidden', /at most 2 transports per peer/],
      ['a third producer', alice, 'produce', { transportId: t, kind: 'audio', rtpParameters: rtp(9, '9') }, 'forbidden', /at most 2 producers per peer/],
      ['a first consumer', bob, 'consume', { transportId: recv, producerId: produced[0]?.producerId }, undefined, undefined],
      ['a second consumer of the same producer', bob, 'consume', { transportId: recv, producerId: produced[0]?.producerId }, 'conflict', /already consuming/],
      ['a second consumer', bob, 'consume', { transportId: recv, producerId: produced[1]?.producerId }, undefined, undefined],
      ['a third consumer', bob, 'consume', { transportId: recv, producerId: carols.producerId }, 'forbidden', /at most 2 consumers per peer/],
    ];
    for (const [name, who, method, data, code, message] of cases) {
      const r = await who.call(method, data);
      assert.equal(r.error?.code, code, name);
      if (message !== undefined) assert.match(r.error?.message ?? '', message, name);
    }
    await Promise.all([alice, bob, carol].map((c) => c.close()));
  });
});

describe('client mistakes are answered with 4xx-like codes and logged without stacks', () => {
  let s: TestServer;
  before(async () => { s = await startTestServer({ MAX_MALFORMED_MESSAGES: '5', MAX_MESSAGES_PER_SECOND: '100000', MESSAGE_BURST: '100000' }); });
  after(() => s.stop());

  it('connecting twice, a reused SSRC or MID, an unsupported codec, consuming oneself, an unknown method', async () => {
    const c = await join(s.ws, 'clumsy', 'mistakes');
    const t = await sendTransport(c);
    const { producerId } = await c.request<{ producerId: string }>('produce', { transportId: t, kind: 'audio', rtpParameters: rtp(5, '0') });
    const { transportId: recv } = await c.request<{ transportId: string }>('createWebRtcTransport', { direction: 'recv' });
    const before = s.logs.length;
    const mistakes: [string, string, Record<string, unknown>, string][] = [
      ['connect a transport twice', 'connectTransport', { transportId: t, dtlsParameters: clientDtlsParameters }, 'conflict'],
      ['reuse an SSRC on the transport', 'produce', { transportId: t, kind: 'audio', rtpParameters: rtp(5, '1') }, 'conflict'],
      ['reuse a MID on the transport', 'produce', { transportId: t, kind: 'audio', rtpParameters: rtp(6, '0') }, 'conflict'],
      ['produce a codec the router does not offer', 'produce', { transportId: t, kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/PCMA', payloadType: 8, clockRate: 8000 }], encodings: [{ ssrc: 8 }] } }, 'bad_request'],
      ['consume its own producer', 'consume', { transportId: recv, producerId }, 'bad_request'],
      ['call a method that does not exist', 'dropTables', {}, 'unknown_method'],
      ['call a prototype property', 'constructor', {}, 'unknown_method'],
    ];
    for (const [name, method, data, code] of mistakes) assert.equal((await c.call(method, data)).error?.code, code, name);
    const lines = s.logs.slice(before);
    assert.deepEqual(lines.filter((l) => (l['level'] as number) >= 50 || 'err' in l), [], 'no error lines, no stacks');
    assert.equal(lines.filter((l) => l['event'] === 'request_refused' && l['level'] === 30).length, 5);
    await c.close();
  });

  it('a client that ignores the close frame is not read any more: one peer_kicked line, the socket dropped', async () => {
    const sock = tcpConnect(s.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(`GET /signaling?token=${token({ sub: 'deaf', room: 'mistakes' })} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    await new Promise((r) => sock.once('data', r));
    const closed = new Promise((r) => sock.once('close', r));
    sock.on('error', () => undefined);
    const frame = maskedFrame('nope');
    sock.write(Buffer.concat(Array.from({ length: 20000 }, () => frame)));
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('socket not dropped within 5 s')), 5000))]);
    assert.equal(s.logs.filter((l) => l['event'] === 'peer_kicked' && l['peer'] === 'deaf').length, 1);
    assert.deepEqual(errorsLogged(s), []);
  });
});
