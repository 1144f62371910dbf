import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type WebSocket from 'ws';
import { freePort, spawnServer } from '../../helpers/process.js';
import { SignalingClient, clientDtlsParameters, eventually, opusRtpCapabilities, opusRtpParameters, statusCounts, testEnv, token } from '../../helpers/server.js';

/** Values put in place of every field, one at a time: wrong types, nulls, floats, huge and negative numbers, nesting. */
const MUTATIONS: [string, unknown][] = [
  ['null', null], ['true', true], ['"x"', 'x'], ['""', ''], ['a 3000-character string', 'x'.repeat(3000)],
  ['0', 0], ['-1', -1], ['1.5', 1.5], ['2^31', 2 ** 31], ['2^53+2', 2 ** 53 + 2], ['1e300', 1e300], ['-1e300', -1e300],
  ['{}', {}], ['a nested object', { a: { b: { c: [1, { d: null }] } } }], ['[]', []], ['a mixed array', [1, 'x', null, {}]],
  ['a __proto__ object', JSON.parse('{"__proto__":{"polluted":true}}')],
];
const MISSING = Symbol('missing');

type Path = (string | number)[];

/** Every path into a JSON value: each object key, each array index, at every depth. */
function paths(value: unknown, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [];
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])]);
}

function withValueAt(template: Record<string, unknown>, path: Path, value: unknown): unknown {
  const copy = structuredClone(template) as Record<string | number, unknown>;
  let node = copy;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (value === MISSING) delete node[last];
  else node[last] = value;
  return copy;
}

/** Sends one frame and resolves with the next reply (notifications skipped). */
function exchange(ws: WebSocket, frame: string): Promise<{ ok: boolean; error?: { code: string; message: string } }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.off('message', onMessage); reject(new Error(`no reply within 5 s to ${frame.slice(0, 200)}`)); }, 5000);
    const onMessage = (raw: WebSocket.RawData) => {
      const msg = JSON.parse(raw.toString()) as { notification?: string; ok: boolean };
      if (msg.notification !== undefined) return;
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve(msg);
    };
    ws.on('message', onMessage);
    ws.send(frame);
  });
}

describe('fuzz: every field of every method, as a hostile client would send it', () => {
  it('gets a reply that is never "internal", leaves the process alive and ready, and nothing behind once the sockets close', async () => {
    const port = await freePort();
    const srv = spawnServer(testEnv({ PORT: String(port), NUM_WORKERS: '2', LOG_LEVEL: 'info', MAX_MESSAGES_PER_SECOND: '100000', MESSAGE_BURST: '100000', MAX_MALFORMED_MESSAGES: '100000' }));
    try {
      await srv.waitForLog('listening');
      const url = (sub: string) => `ws://127.0.0.1:${port}/signaling?token=${token({ sub, room: 'fuzz' })}`;
      const [victim, fuzzer] = [await SignalingClient.connect(url('victim')), await SignalingClient.connect(url('fuzzer'))];
      const transport = async (c: SignalingClient, direction: 'send' | 'recv', connect: boolean) => {
        const { transportId } = await c.request<{ transportId: string }>('createWebRtcTransport', { direction });
        if (connect) await c.request('connectTransport', { transportId, dtlsParameters: clientDtlsParameters });
        return transportId;
      };
      const produce = async (c: SignalingClient, transportId: string, ssrc: number) =>
        (await c.request<{ producerId: string }>('produce', { transportId, kind: 'audio', rtpParameters: { ...opusRtpParameters(ssrc), mid: String(ssrc) } })).producerId;
      const consume = async (c: SignalingClient, transportId: string, producerId: string) =>
        (await c.request<{ consumerId: string }>('consume', { transportId, producerId })).consumerId;

      // Each side owns one of everything, so the fuzzer can name its own objects and the victim's.
      await victim.request('join', { rtpCapabilities: opusRtpCapabilities });
      await fuzzer.request('join', { rtpCapabilities: opusRtpCapabilities });
      const victimSend = await transport(victim, 'send', true);
      const victimRecv = await transport(victim, 'recv', true);
      const victimProducers = [await produce(victim, victimSend, 1), await produce(victim, victimSend, 2)];
      const fuzzerUnconnected = await transport(fuzzer, 'send', false);
      const fuzzerSend = await transport(fuzzer, 'send', true);
      const fuzzerRecv = await transport(fuzzer, 'recv', true);
      const fuzzerProducer = await produce(fuzzer, fuzzerSend, 3);
      const victimConsumer = await consume(victim, victimRecv, fuzzerProducer);
      const fuzzerConsumer = await consume(fuzzer, fuzzerRecv, victimProducers[0] as string);
      const foreignIds: [string, unknown][] = [victimSend, victimRecv, ...victimProducers, victimConsumer].map((id) => [`the victim's ${id}`, id]);

      const caps = {
        codecs: [{ kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc', parameter: '' }] }],
        headerExtensions: [{ kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1, preferredEncrypt: false, direction: 'sendrecv' }],
      };
      const rtpParameters = {
        mid: 'f0',
        codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc', parameter: '' }] }],
        headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1, encrypt: false, parameters: {} }],
        encodings: [{ ssrc: 5555, rid: 'r0', codecPayloadType: 111, rtx: { ssrc: 5556 }, dtx: false, scalabilityMode: 'L1T1', maxBitrate: 64000 }],
        rtcp: { cname: 'fuzz', reducedSize: true },
        msid: 'stream track',
      };
      const templates: [string, Record<string, unknown>][] = [
        ['getRouterRtpCapabilities', {}],
        ['join', { rtpCapabilities: caps, displayName: 'fuzz' }],
        ['createWebRtcTransport', { direction: 'recv', forceTcp: false }],
        ['connectTransport', { transportId: fuzzerUnconnected, dtlsParameters: clientDtlsParameters }],
        ['produce', { transportId: fuzzerSend, kind: 'audio', rtpParameters, appData: { label: 'mic', n: 1 } }],
        ['consume', { transportId: fuzzerRecv, producerId: victimProducers[1], rtpCapabilities: caps }],
        ['pause', { consumerId: fuzzerConsumer }],
        ['resume', { consumerId: fuzzerConsumer }],
        ['pause', { producerId: fuzzerProducer }],
        ['resume', { producerId: fuzzerProducer }],
        ['refreshToken', { token: token({ sub: 'fuzzer', room: 'fuzz' }) }],
        ['closeProducer', { producerId: fuzzerProducer }],
      ];

      const internal: string[] = [];
      let sent = 0;
      const send = async (frame: string) => {
        sent++;
        const reply = await exchange(fuzzer.ws, frame);
        if (!reply.ok && (reply.error === undefined || reply.error.code === 'internal')) internal.push(frame.slice(0, 300));
      };
      for (const [method, template] of templates) {
        for (const path of paths(template)) {
          const values = [...MUTATIONS, ['missing', MISSING] as [string, unknown], ...(/Id$/.test(String(path[path.length - 1])) ? foreignIds : [])];
          for (const [, value] of values) await send(JSON.stringify({ id: 1000 + sent, method, data: withValueAt(template, path, value) }));
          const node = path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], template);
          if (node !== null && typeof node === 'object' && !Array.isArray(node)) await send(JSON.stringify({ id: 1000 + sent, method, data: withValueAt(template, [...path, 'unexpected'], 1) }));
        }
        for (const [, value] of MUTATIONS) await send(JSON.stringify({ id: 1000 + sent, method, data: value }));
        await send(JSON.stringify({ id: 1000 + sent, method, data: { ...template, unexpected: 1 } }));
      }
      await send(JSON.stringify({ id: 1000 + sent, method: 'leave', data: { unexpected: 1 } }));
      for (const [, value] of MUTATIONS) {
        await send(JSON.stringify({ id: value, method: 'getRouterRtpCapabilities' }));
        await send(JSON.stringify({ id: 1000 + sent, method: value }));
      }
      for (const method of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'then']) await send(JSON.stringify({ id: 1000 + sent, method }));
      console.log(`# fuzz: ${sent} requests`);

      assert.deepEqual(internal, [], 'no request answered "internal"');
      assert.equal(srv.child.exitCode, null, 'the process is alive');
      assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
      assert.deepEqual(srv.logs.filter((l) => (l['level'] as number) >= 50), [], 'no error lines');
      await Promise.all([victim.close(), fuzzer.close()]);
      // Rooms can reach 0 a moment before the last peer's cleanup is counted: wait for every count, not only rooms.
      const counts = await eventually(() => statusCounts(`http://127.0.0.1:${port}`), (c) => Object.values(c).every((n) => n === 0), 10_000, '/status back to 0');
      assert.deepEqual(counts, { rooms: 0, peers: 0, transports: 0, producers: 0, consumers: 0 });
    } finally {
      srv.child.kill('SIGKILL');
    }
  });
});
