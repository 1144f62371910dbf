import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { SignalingClient, opusRtpCapabilities, startTestServer, token, type TestServer } from '../../helpers/server.js';

const connect = (s: TestServer, sub: string, room = 'r') => SignalingClient.connect(`${s.ws}?token=${token({ sub, room })}`);

describe('bad clients get an error or a close; the server and other peers carry on', () => {
  let s: TestServer;
  let bystander: SignalingClient;
  before(async () => {
    s = await startTestServer({ MAX_MESSAGE_BYTES: '4096', MAX_MESSAGES_PER_SECOND: '20', MESSAGE_BURST: '20', MAX_MALFORMED_MESSAGES: '5', MAX_CONNECTIONS_PER_IP: '30' });
    bystander = await connect(s, 'bystander');
    await bystander.request('join', { rtpCapabilities: opusRtpCapabilities });
  });
  after(() => s.stop());

  const stillServing = async () => {
    assert.ok(await bystander.request('getRouterRtpCapabilities'));
    assert.equal((await fetch(`${s.http}/healthz`)).status, 200);
  };

  const malformed: [string, string | Buffer, string, RegExp][] = [
    ['invalid JSON', '{"id":1,', 'bad_request', /invalid JSON/],
    ['a JSON array', '[1,2]', 'bad_request', /invalid request/],
    ['an unknown method', JSON.stringify({ id: 7, method: 'dropTables', data: {} }), 'unknown_method', /unknown method "dropTables"/],
    ['data that fails the schema', JSON.stringify({ id: 8, method: 'createWebRtcTransport', data: { direction: 'up' } }), 'bad_request', /data\.direction/],
    ['a binary frame', Buffer.from([1, 2, 3]), 'bad_request', /binary/],
  ];
  for (const [name, payload, code, message] of malformed) {
    it(`${name} → error response, socket stays open`, async () => {
      const c = await connect(s, `m-${name.replace(/\W/g, '')}`);
      const reply = new Promise<{ id: unknown; ok: boolean; error: { code: string; message: string } }>((resolve) => c.ws.once('message', (m) => resolve(JSON.parse(m.toString()))));
      c.ws.send(payload);
      const r = await reply;
      assert.equal(r.ok, false);
      assert.equal(r.error.code, code);
      assert.match(r.error.message, message);
      assert.equal(c.ws.readyState, WebSocket.OPEN);
      await c.close();
      await stillServing();
    });
  }

  it('too many malformed messages → close 4400', async () => {
    const c = await connect(s, 'spammer');
    for (let i = 0; i < 5; i++) c.ws.send('nope');
    assert.equal((await c.closed).code, 4400);
    await stillServing();
  });

  it('an oversize message → close 1009', async () => {
    const c = await connect(s, 'big');
    c.ws.send(JSON.stringify({ id: 1, method: 'join', data: { displayName: 'x'.repeat(5000) } }));
    assert.equal((await c.closed).code, 1009);
    await stillServing();
  });

  it('a flood over the rate limit → close 4429', async () => {
    const c = await connect(s, 'flood');
    for (let i = 0; i < 100; i++) c.ws.send(JSON.stringify({ id: i, method: 'getRouterRtpCapabilities' }));
    assert.equal((await c.closed).code, 4429);
    await stillServing();
  });

  it('a peer cannot touch another peer\'s transport or producer', async () => {
    const owner = await connect(s, 'owner');
    const thief = await connect(s, 'thief');
    await thief.request('join', { rtpCapabilities: opusRtpCapabilities });
    const t = await owner.request<{ transportId: string }>('createWebRtcTransport', { direction: 'send' });
    const dtlsParameters = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: Array(32).fill('AB').join(':') }] };
    for (const [method, data] of [
      ['connectTransport', { transportId: t.transportId, dtlsParameters }],
      ['produce', { transportId: t.transportId, kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }] } }],
      ['closeProducer', { producerId: t.transportId }],
      ['pause', { consumerId: 'whatever' }],
    ] as const) {
      const r = await thief.call(method, data);
      assert.equal(r.ok, false, method);
      assert.equal(r.error?.code, 'not_found', method);
    }
    assert.ok(await owner.request('connectTransport', { transportId: t.transportId, dtlsParameters }), 'the owner still can');
    await Promise.all([owner.close(), thief.close()]);
    await stillServing();
  });

  it('invalid RTP parameters are the client\'s error, not a crash', async () => {
    const c = await connect(s, 'sloppy');
    await c.request('join', { rtpCapabilities: opusRtpCapabilities });
    const t = await c.request<{ transportId: string }>('createWebRtcTransport', { direction: 'send' });
    const r = await c.call('produce', { transportId: t.transportId, kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus' }] } });
    assert.equal(r.error?.code, 'bad_request');
    await c.close();
    await stillServing();
  });

  it('a second connection for the same peer replaces the first (close 4409)', async () => {
    const first = await connect(s, 'twice');
    const second = await connect(s, 'twice');
    assert.equal((await first.closed).code, 4409);
    assert.ok(await second.request('getRouterRtpCapabilities'));
    await second.close();
  });

  it('stale peers that stop answering pings are dropped', async () => {
    const h = await startTestServer({ HEARTBEAT_INTERVAL_MS: '200' });
    try {
      // A client that never answers pings.
      const c = await SignalingClient.connect(`${h.ws}?token=${token({ sub: 'sleepy', room: 'r' })}`, { autoPong: false });
      const closed = await Promise.race([c.closed, new Promise<null>((r) => setTimeout(() => r(null), 3000))]);
      assert.ok(closed, 'the server closed the silent peer');
      assert.ok(h.logs.some((l) => l['event'] === 'peer_timeout' && l['peer'] === 'sleepy'));
    } finally {
      await h.stop();
    }
  });
});

describe('connections per IP', () => {
  it('refuses the connection past the limit with 429', async () => {
    const s = await startTestServer({ MAX_CONNECTIONS_PER_IP: '3' });
    try {
      const open = await Promise.all([1, 2, 3].map((i) => connect(s, `p${i}`)));
      await assert.rejects(connect(s, 'p4'), (err: { status?: number }) => err.status === 429);
      await open[0]?.close();
      const again = await connect(s, 'p5');
      await Promise.all([again, ...open.slice(1)].map((c) => c?.close()));
    } finally {
      await s.stop();
    }
  });

  it('refuses joins to a full room with 403', async () => {
    const s = await startTestServer({ MAX_PEERS_PER_ROOM: '2' });
    try {
      const open = await Promise.all([1, 2].map((i) => connect(s, `p${i}`)));
      await assert.rejects(connect(s, 'p3'), (err: { status?: number }) => err.status === 403);
      await Promise.all(open.map((c) => c.close()));
    } finally {
      await s.stop();
    }
  });
});
