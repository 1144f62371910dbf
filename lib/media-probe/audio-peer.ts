import { randomBytes } from 'node:crypto';
import { RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, type RTCPeerConnectionConfig } from 'werift';
import { parseLocalDescription, remoteDescription, type AudioCodec, type TransportParams } from './sdp.js';

export const OPUS: AudioCodec = { payloadType: 111, clockRate: 48000, channels: 2 };

export interface DtlsParameters {
  role: 'client' | 'server';
  fingerprints: { algorithm: string; value: string }[];
}

function peer(codec: AudioCodec, config: RTCPeerConnectionConfig): RTCPeerConnection {
  return new RTCPeerConnection({
    codecs: { audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: codec.clockRate, channels: codec.channels, payloadType: codec.payloadType })], video: [] },
    headerExtensions: { audio: [], video: [] },
    ...config,
  });
}

/** Resolves when ICE and DTLS are done (connectionState "connected"); rejects on failure or timeout. */
export function connected(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (pc.connectionState === 'connected') return resolve();
    const timer = setTimeout(() => { sub.unSubscribe(); reject(new Error(`ICE/DTLS not connected within ${timeoutMs} ms (state ${pc.connectionState}, ICE ${pc.iceConnectionState})`)); }, timeoutMs);
    const sub = pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') { clearTimeout(timer); sub.unSubscribe(); resolve(); }
      if (state === 'failed' || state === 'closed') { clearTimeout(timer); sub.unSubscribe(); reject(new Error(`peer connection ${state}`)); }
    });
  });
}

/** A sending WebRTC peer for one Opus track, wired to an SFU send transport. */
export class AudioSender {
  private seq = Math.floor(Math.random() * 65535);
  private ts = Math.floor(Math.random() * 2 ** 31);

  private constructor(readonly pc: RTCPeerConnection, private readonly sender: ReturnType<RTCPeerConnection['addTransceiver']>['sender'], readonly dtlsParameters: DtlsParameters, readonly rtpParameters: Record<string, unknown>) {}

  /**
   * Creates the local offer, answers it with the SFU transport's parameters (the SFU is the DTLS server),
   * and returns what the SFU needs: the client's DTLS parameters and the RTP parameters to produce with.
   */
  static async create(transport: TransportParams, config: RTCPeerConnectionConfig = {}, codec: AudioCodec = OPUS): Promise<AudioSender> {
    const pc = peer(codec, config);
    const transceiver = pc.addTransceiver('audio', { direction: 'sendonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const local = parseLocalDescription(pc.localDescription?.sdp ?? '');
    if (local.ssrc === undefined) throw new Error('local offer has no SSRC');
    await pc.setRemoteDescription({ type: 'answer', sdp: remoteDescription({ transport, type: 'answer', direction: 'recvonly', mid: local.mid, codec }) });
    const rtpParameters = {
      mid: local.mid,
      codecs: [{ mimeType: 'audio/opus', payloadType: codec.payloadType, clockRate: codec.clockRate, channels: codec.channels, parameters: {}, rtcpFeedback: [] }],
      headerExtensions: [],
      encodings: [{ ssrc: local.ssrc }],
      rtcp: { cname: local.cname ?? 'rtcops-probe', reducedSize: true },
    };
    return new AudioSender(pc, transceiver.sender, { role: 'client', fingerprints: [local.fingerprint] }, rtpParameters);
  }

  /** Sends one RTP packet (20 ms of audio time) with the given payload. */
  async send(payload: Buffer): Promise<void> {
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + 960) >>> 0;
    await this.sender.sendRtp(new RtpPacket(new RtpHeader({ payloadType: 0, sequenceNumber: this.seq, timestamp: this.ts, marker: false }), payload));
  }

  close(): Promise<void> {
    return this.pc.close();
  }
}

/** A receiving WebRTC peer for one Opus consumer, wired to an SFU recv transport. */
export class AudioReceiver {
  readonly received: Buffer[] = [];

  private constructor(readonly pc: RTCPeerConnection, readonly dtlsParameters: DtlsParameters) {}

  /** Takes the SFU's offer (built from the consumer), answers it, and collects every RTP payload that arrives. */
  static async create(transport: TransportParams, consumer: { rtpParameters: { codecs: { payloadType: number; clockRate: number; channels?: number }[]; encodings?: { ssrc?: number }[]; rtcp?: { cname?: string }; mid?: string } }, config: RTCPeerConnectionConfig = {}): Promise<AudioReceiver> {
    const c = consumer.rtpParameters.codecs[0];
    const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
    if (c === undefined || ssrc === undefined) throw new Error('consumer has no codec or SSRC');
    const codec: AudioCodec = { payloadType: c.payloadType, clockRate: c.clockRate, channels: c.channels ?? 2 };
    const pc = peer(codec, config);
    const receiver = new AudioReceiver(pc, { role: 'client', fingerprints: [] });
    pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => { receiver.received.push(Buffer.from(rtp.payload)); });
    });
    const mid = consumer.rtpParameters.mid ?? '0';
    await pc.setRemoteDescription({ type: 'offer', sdp: remoteDescription({ transport, type: 'offer', direction: 'sendonly', mid, codec, ssrc: { ssrc, cname: consumer.rtpParameters.rtcp?.cname ?? 'sfu' } }) });
    await pc.setLocalDescription(await pc.createAnswer());
    const local = parseLocalDescription(pc.localDescription?.sdp ?? '');
    receiver.dtlsParameters.role = local.setup === 'passive' ? 'server' : 'client';
    receiver.dtlsParameters.fingerprints.push(local.fingerprint);
    return receiver;
  }

  close(): Promise<void> {
    return this.pc.close();
  }
}

/** A payload that identifies itself: 4-byte sequence index plus random bytes. */
export function probePayload(index: number, size = 60): Buffer {
  const b = randomBytes(size);
  b.writeUInt32BE(index, 0);
  return b;
}
