import { readFileSync } from 'node:fs';
import type { RTCPeerConnectionConfig } from 'werift';
import { AudioReceiver, AudioSender, connected, probePayload } from '../../lib/media-probe/audio-peer.js';
import type { TransportParams } from '../../lib/media-probe/sdp.js';
import { mintTurnCredentials } from '../../lib/turn/credentials.js';
import type { Check, Outcome } from './result.js';
import { probeRoom, SignalingClient } from './signaling-client.js';

export interface MediaProbeOptions {
  signalingUrl: string;
  caFile?: string | undefined;
  jwtSecret: string;
  /** Needed for the relayed probe. */
  turnSecret?: string | undefined;
  packets: number;
  minReceivedPercent: number;
  /** turn:/turns: URLs; when set, a second probe runs with relay-only ICE through them. */
  relayUrls: string[];
  /** Gather host candidates on this address only (a loopback test; default every interface). */
  iceAddress?: string | undefined;
  timeoutMs: number;
}

const OPUS_CAPS = { codecs: [{ kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }], headerExtensions: [] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type ConsumerInfo = { consumerId: string; rtpParameters: Parameters<typeof AudioReceiver.create>[1]['rtpParameters'] };

/**
 * A real WebRTC call through the SFU: one peer produces Opus, another consumes it; ICE + DTLS + SRTP, then RTP
 * packets compared byte for byte. Run direct, and again forced through TURN (relay-only ICE) when relayUrls are set.
 */
export class MediaProbeCheck implements Check {
  readonly name = 'media-probe';
  readonly targets: string[];

  constructor(private readonly o: MediaProbeOptions) {
    this.targets = ['direct', ...(o.relayUrls.length > 0 ? ['relay'] : [])];
  }

  private rtcConfig(mode: string): RTCPeerConnectionConfig {
    const local: Partial<RTCPeerConnectionConfig> = this.o.iceAddress === undefined ? {} : { iceInterfaceAddresses: { udp4: this.o.iceAddress }, iceAdditionalHostAddresses: [this.o.iceAddress] };
    if (mode === 'direct') return { iceServers: [], iceUseIpv6: false, ...local };
    const creds = mintTurnCredentials(this.o.turnSecret ?? '', 'rtcops-health-media', 300);
    return { iceServers: this.o.relayUrls.map((urls) => ({ urls, username: creds.username, credential: creds.password })), iceTransportPolicy: 'relay', iceUseIpv6: false, ...local };
  }

  private async probe(mode: string): Promise<Outcome> {
    const o = this.o;
    const room = probeRoom('media');
    const ca = o.caFile === undefined ? undefined : readFileSync(o.caFile);
    const stepTimeout = Math.max(2000, Math.floor(o.timeoutMs / 3));
    const closers: (() => unknown)[] = [];
    let step = 'signaling';
    try {
      const tx = await SignalingClient.connect({ url: o.signalingUrl, jwtSecret: o.jwtSecret, sub: 'rtcops-health-tx', room, ca, timeoutMs: stepTimeout });
      closers.push(() => tx.close());
      const rx = await SignalingClient.connect({ url: o.signalingUrl, jwtSecret: o.jwtSecret, sub: 'rtcops-health-rx', room, ca, timeoutMs: stepTimeout });
      closers.push(() => rx.close());
      await tx.request('join', { rtpCapabilities: OPUS_CAPS });
      await rx.request('join', { rtpCapabilities: OPUS_CAPS });

      step = 'producing';
      const config = this.rtcConfig(mode);
      const sendT = await tx.request<TransportParams>('createWebRtcTransport', { direction: 'send' });
      const sender = await AudioSender.create(sendT, config);
      closers.push(() => sender.close());
      await tx.request('connectTransport', { transportId: sendT.transportId, dtlsParameters: sender.dtlsParameters });
      const { producerId } = await tx.request<{ producerId: string }>('produce', { transportId: sendT.transportId, kind: 'audio', rtpParameters: sender.rtpParameters });

      step = 'consuming';
      const recvT = await rx.request<TransportParams>('createWebRtcTransport', { direction: 'recv' });
      const consumer = await rx.request<ConsumerInfo>('consume', { transportId: recvT.transportId, producerId });
      const receiver = await AudioReceiver.create(recvT, consumer, config);
      closers.push(() => receiver.close());
      await rx.request('connectTransport', { transportId: recvT.transportId, dtlsParameters: receiver.dtlsParameters });

      step = `ICE + DTLS${mode === 'relay' ? ' through TURN' : ''}`;
      const t0 = performance.now();
      await Promise.all([connected(sender.pc, stepTimeout), connected(receiver.pc, stepTimeout)]);
      const connectMs = Math.round(performance.now() - t0);
      await rx.request('resume', { consumerId: consumer.consumerId });

      step = 'RTP';
      const sent = new Map<number, Buffer>();
      for (let i = 0; i < o.packets; i++) {
        const p = probePayload(i);
        sent.set(i, p);
        await sender.send(p);
        await sleep(20);
      }
      const deadline = Date.now() + 1500;
      while (receiver.received.length < o.packets && Date.now() < deadline) await sleep(20);
      const intact = receiver.received.filter((b) => sent.get(b.readUInt32BE(0))?.equals(b) === true).length;
      const receivedPercent = Math.round((intact / o.packets) * 1000) / 10;
      const values = { connectMs, packetsSent: o.packets, packetsReceived: intact, receivedPercent };
      if (receivedPercent < o.minReceivedPercent) return { check: this.name, target: mode, status: 'critical', message: `connected in ${connectMs} ms but only ${intact} of ${o.packets} RTP packets came back through the SFU (${receivedPercent}%, critical below ${o.minReceivedPercent}%)`, values };
      return { check: this.name, target: mode, status: 'ok', message: `a ${mode === 'relay' ? 'TURN-relayed' : 'direct'} call connected in ${connectMs} ms; ${intact}/${o.packets} RTP packets came back intact`, values };
    } catch (error) {
      return { check: this.name, target: mode, status: 'critical', message: `a ${mode === 'relay' ? 'TURN-relayed' : 'direct'} call failed at ${step}: ${(error as Error).message}`, values: {} };
    } finally {
      for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
    }
  }

  async run(): Promise<Outcome[]> {
    const results: Outcome[] = [];
    for (const mode of this.targets) results.push(await this.probe(mode));
    return results;
  }
}
