import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as mediasoup from 'mediasoup';
import { mediaCodecs } from '../../../server/media-codecs.js';
import { ADMIN_TOKEN, SignalingClient, opusRtpCapabilities, opusRtpParameters, startTestServer, token, type TestServer } from '../../helpers/server.js';

type Transport = { transportId: string; iceCandidates: { address: string; protocol: string; port: number }[]; iceParameters: unknown; dtlsParameters: unknown };
const dtls = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: Array(32).fill('AB').join(':') }] };

async function status(s: TestServer) {
  return (await fetch(`${s.http}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json() as Promise<{ rooms: number; peers: number; workers: { transports: number; producers: number; consumers: number }[] }>;
}

for (const mode of ['port range', 'WebRtcServer'] as const) {
  describe(`two peers in a room (${mode})`, () => {
    let s: TestServer;
    let alice: SignalingClient;
    let bob: SignalingClient;
    before(async () => {
      // A fixed port below the kernel's ephemeral range (32768-60999): one inside it can be the local end of any
      // loopback connection of the run at that moment (CI: uv_listen() EADDRINUSE on 42100 and 42200).
      s = await startTestServer(mode === 'WebRtcServer' ? { WEBRTC_SERVER_PORT: '31100', ANNOUNCED_IP: '127.0.0.2' } : { ANNOUNCED_IP: '127.0.0.2' });
      alice = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'alice', room: 'r1' })}`);
      bob = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'bob', room: 'r1' })}`);
    });
    after(async () => { await s.stop(); });

    let producerId = '';
    it('both get the router capabilities and join; alice is told bob joined', async () => {
      const caps = await alice.request<{ codecs: { mimeType: string }[] }>('getRouterRtpCapabilities');
      assert.ok(caps.codecs.some((c) => c.mimeType === 'audio/opus'));
      const a = await alice.request<{ peers: unknown[] }>('join', { rtpCapabilities: opusRtpCapabilities, displayName: 'Alice' });
      assert.deepEqual(a.peers, []);
      const b = await bob.request<{ peers: { peerId: string }[] }>('join', { rtpCapabilities: opusRtpCapabilities });
      assert.deepEqual(b.peers.map((p) => p.peerId), ['alice']);
      await alice.waitFor('peerJoined', (n) => n.data['peerId'] === 'bob');
    });

    it('transports carry ICE candidates with the announced IP', async () => {
      const t = await alice.request<Transport>('createWebRtcTransport', { direction: 'send' });
      assert.ok(t.iceCandidates.length >= 2);
      for (const c of t.iceCandidates) assert.equal(c.address, '127.0.0.2');
      assert.deepEqual(new Set(t.iceCandidates.map((c) => c.protocol)), new Set(['udp', 'tcp']));
      if (mode === 'WebRtcServer') for (const c of t.iceCandidates) assert.equal(c.port, 31100);
      await alice.request('connectTransport', { transportId: t.transportId, dtlsParameters: dtls });
      const p = await alice.request<{ producerId: string }>('produce', { transportId: t.transportId, kind: 'audio', rtpParameters: opusRtpParameters(1111) });
      producerId = p.producerId;
    });

    it('bob is told about the producer and consumes it', async () => {
      const n = await bob.waitFor('newProducer', (x) => x.data['producerId'] === producerId);
      assert.deepEqual(n.data, { producerId, peerId: 'alice', kind: 'audio' });
      const t = await bob.request<Transport>('createWebRtcTransport', { direction: 'recv' });
      const c = await bob.request<{ consumerId: string; kind: string; rtpParameters: { codecs: { mimeType: string }[] } }>('consume', { transportId: t.transportId, producerId });
      assert.equal(c.kind, 'audio');
      assert.equal(c.rtpParameters.codecs[0]?.mimeType, 'audio/opus');
      await bob.request('resume', { consumerId: c.consumerId });
      const st = await status(s);
      assert.equal(st.peers, 2);
      assert.deepEqual([st.workers[0]?.transports, st.workers[0]?.producers, st.workers[0]?.consumers], [2, 1, 1]);
    });

    it('a late joiner is handed the existing producers', async () => {
      const carol = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'carol', room: 'r1' })}`);
      const j = await carol.request<{ producers: { producerId: string; peerId: string }[] }>('join', { rtpCapabilities: opusRtpCapabilities });
      assert.deepEqual(j.producers.map((p) => [p.producerId, p.peerId]), [[producerId, 'alice']]);
      await carol.close();
      await alice.waitFor('peerLeft', (n) => n.data['peerId'] === 'carol');
    });

    it('closing the producer tells bob and closes his consumer', async () => {
      await alice.request('closeProducer', { producerId });
      await bob.waitFor('producerClosed', (n) => n.data['producerId'] === producerId);
      await bob.waitFor('consumerClosed', (n) => n.data['producerId'] === producerId);
      assert.equal((await status(s)).workers[0]?.consumers, 0);
    });

    it('when everyone leaves, the room and its router are closed', async () => {
      await bob.request('leave');
      await bob.closed;
      await alice.waitFor('peerLeft', (n) => n.data['peerId'] === 'bob');
      await alice.close();
      let st = await status(s);
      for (let i = 0; i < 100 && st.rooms > 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        st = await status(s);
      }
      assert.deepEqual([st.rooms, st.peers], [0, 0]);
      assert.ok(s.logs.some((l) => l['event'] === 'room_closed' && l['room'] === 'r1'));
    });
  });
}

describe('rooms spread over workers', () => {
  it('puts each new room on the least-loaded worker', async () => {
    const s = await startTestServer({ NUM_WORKERS: '2' });
    try {
      const clients = await Promise.all(['a', 'b', 'c', 'd'].map((room) => SignalingClient.connect(`${s.ws}?token=${token({ sub: 'p', room })}`)));
      const st = await (await fetch(`${s.http}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json() as { workers: { rooms: number }[] };
      assert.deepEqual(st.workers.map((w) => w.rooms), [2, 2]);
      await Promise.all(clients.map((c) => c.close()));
    } finally {
      await s.stop();
    }
  });

  it('concurrent first joins to one room share one router', async () => {
    const s = await startTestServer({ NUM_WORKERS: '2' });
    try {
      const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => SignalingClient.connect(`${s.ws}?token=${token({ sub: `p${i}`, room: 'same' })}`)));
      const created = s.logs.filter((l) => l['event'] === 'room_created' && l['room'] === 'same');
      assert.equal(created.length, 1);
      await Promise.all(clients.map((c) => c.close()));
    } finally {
      await s.stop();
    }
  });
});

describe('router capabilities', () => {
  it('getRouterRtpCapabilities answers exactly what a router built from the room codecs reports', async () => {
    const s = await startTestServer();
    const worker = await mediasoup.createWorker({ logLevel: 'none' });
    try {
      const c = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'p', room: 'caps' })}`);
      const router = await worker.createRouter({ mediaCodecs });
      assert.deepEqual(await c.request('getRouterRtpCapabilities'), router.rtpCapabilities);
      await c.close();
    } finally {
      worker.close();
      await s.stop();
    }
  });
});
