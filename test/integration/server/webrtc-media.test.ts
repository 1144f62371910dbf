import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RTCPeerConnectionConfig } from 'werift';
import { AudioReceiver, AudioSender, connected, probePayload } from '../../../lib/media-probe/audio-peer.js';
import type { TransportParams } from '../../../lib/media-probe/sdp.js';
import { startStunResponder } from '../../helpers/stun-responder.js';
import { SignalingClient, opusRtpCapabilities, startTestServer, token, type TestServer } from '../../helpers/server.js';

// Keep the client's ICE on loopback, IPv4 only. werift asks stun.l.google.com when it has no STUN server (a DNS
// query and a packet off this machine): it gets a STUN responder on loopback instead.
const stun = await startStunResponder();
after(() => stun.close());
const loopbackOnly: RTCPeerConnectionConfig = { iceServers: [{ urls: stun.url }], iceUseIpv6: false, iceInterfaceAddresses: { udp4: '127.0.0.1' }, iceAdditionalHostAddresses: ['127.0.0.1'] };

for (const mode of ['port range', 'WebRtcServer'] as const) {
  describe(`a real WebRTC client (werift) through the SFU (${mode})`, () => {
    let s: TestServer;
    let alice: SignalingClient;
    let bob: SignalingClient;
    let sender: AudioSender | undefined;
    let receiver: AudioReceiver | undefined;

    before(async () => {
      // A fixed port below the kernel's ephemeral range (32768-60999): one inside it can be the local end of any
      // loopback connection of the run at that moment (CI: uv_listen() EADDRINUSE on 42100 and 42200).
      s = await startTestServer(mode === 'WebRtcServer' ? { WEBRTC_SERVER_PORT: '31200' } : {});
      alice = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'alice', room: 'media' })}`);
      bob = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'bob', room: 'media' })}`);
      await alice.request('join', { rtpCapabilities: opusRtpCapabilities });
      await bob.request('join', { rtpCapabilities: opusRtpCapabilities });
    });
    after(async () => {
      await sender?.close();
      await receiver?.close();
      await alice.close();
      await bob.close();
      await s.stop();
    });

    it('completes ICE and DTLS on send and receive transports, and RTP arrives intact', async () => {
      const sendT = await alice.request<TransportParams>('createWebRtcTransport', { direction: 'send' });
      sender = await AudioSender.create(sendT, loopbackOnly);
      await alice.request('connectTransport', { transportId: sendT.transportId, dtlsParameters: sender.dtlsParameters });
      const { producerId } = await alice.request<{ producerId: string }>('produce', { transportId: sendT.transportId, kind: 'audio', rtpParameters: sender.rtpParameters });

      const recvT = await bob.request<TransportParams>('createWebRtcTransport', { direction: 'recv' });
      const consumer = await bob.request<{ consumerId: string; rtpParameters: Parameters<typeof AudioReceiver.create>[1]['rtpParameters'] }>('consume', { transportId: recvT.transportId, producerId });
      receiver = await AudioReceiver.create(recvT, consumer, loopbackOnly);
      await bob.request('connectTransport', { transportId: recvT.transportId, dtlsParameters: receiver.dtlsParameters });

      const t0 = Date.now();
      await Promise.all([connected(sender.pc, 10_000), connected(receiver.pc, 10_000)]);
      const connectMs = Date.now() - t0;
      await bob.request('resume', { consumerId: consumer.consumerId });

      const sent = new Map<number, Buffer>();
      for (let i = 0; i < 50; i++) {
        const p = probePayload(i);
        sent.set(i, p);
        await sender.send(p);
        await new Promise((r) => setTimeout(r, 20));
      }
      const deadline = Date.now() + 3000;
      while (receiver.received.length < 45 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

      assert.ok(receiver.received.length >= 45, `received ${receiver.received.length} of 50 packets`);
      for (const got of receiver.received) {
        const idx = got.readUInt32BE(0);
        assert.deepEqual(got, sent.get(idx), `packet ${idx} arrived byte for byte`);
      }
      // Printed, not asserted: timing belongs to bench/.
      console.log(`# ${mode}: ICE+DTLS connected in ${connectMs} ms, ${receiver.received.length}/50 RTP packets forwarded intact`);
    });
  });
}
