import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { RTCPeerConnectionConfig } from 'werift';
import { AudioReceiver, AudioSender, connected, probePayload } from '../media-probe/audio-peer.js';
import type { TransportParams } from '../media-probe/sdp.js';
import { TurnClient, TurnError } from '../turn/client.js';
import { mintTurnCredentials, type TurnCredentials } from '../turn/credentials.js';
import { parseTurnUrl, turnPathName, type TurnUrl } from '../turn/url.js';
import type { Outcome } from './result.js';
import { SignalingClient } from './signaling-client.js';

export interface MediaProbeOptions {
  signalingUrl: string;
  /** Connect the signaling here (nginx on 127.0.0.1 on the host) instead of resolving the URL's domain. */
  address?: string | undefined;
  caFile?: string | undefined;
  /** The CA as PEM text, when there is no file to name (the deploy gate's --ca-file, already read). */
  ca?: string | undefined;
  jwtSecret: string;
  /** Needed for the relayed probe. */
  turnSecret?: string | undefined;
  packets: number;
  minReceivedPercent: number;
  /** turn:/turns: URLs; each gets a probe of its own with relay-only ICE through it (target relay:<transport>). */
  relayUrls: string[];
  /** Name coturn's TLS certificate must cover when a turns: URL names an address (default: the URL's host). */
  relayServername?: string | undefined;
  /** Gather host candidates on this address only (a loopback test; default every interface). */
  iceAddress?: string | undefined;
  timeoutMs: number;
  /** Who calls: its rooms, peers and TURN users are named `<probeName>-…` (default rtcops-health, the daemon's). */
  probeName?: string | undefined;
  /** Stop at the first path that fails (the deploy gate: the reason is known, the rest would only cost time). */
  stopAtFirstFailure?: boolean | undefined;
}

const OPUS_CAPS = { codecs: [{ kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }], headerExtensions: [] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type ConsumerInfo = { consumerId: string; rtpParameters: Parameters<typeof AudioReceiver.create>[1]['rtpParameters'] };

/**
 * Real WebRTC calls through the SFU: one peer produces Opus, another consumes it; ICE + DTLS + SRTP, then RTP
 * packets compared byte for byte. Direct, and again forced through each TURN URL (relay-only ICE).
 */
/**
 * The STUN server of the direct call: our own coturn (the first relay URL's host, on its UDP port), so that
 * werift never falls back to its default, stun.l.google.com. Without relay URLs: coturn's port on loopback.
 */
export function directStunUrl(relayUrls: readonly string[]): string {
  const relays = relayUrls.map(parseTurnUrl);
  const udp = relays.find((r) => r.transport === 'udp');
  const host = udp?.host ?? relays[0]?.host ?? '127.0.0.1';
  const port = udp?.port ?? 3478;
  const bare = host.replace(/^\[|\]$/g, '');
  return `stun:${bare.includes(':') ? `[${bare}]` : bare}:${port}`;
}

export class MediaCalls {
  private readonly name = 'media-probe';

  constructor(private readonly o: MediaProbeOptions) {}

  private rtcConfig(relay: TurnUrl | undefined, creds: TurnCredentials | undefined, ca: Buffer | undefined): RTCPeerConnectionConfig {
    const local: Partial<RTCPeerConnectionConfig> = this.o.iceAddress === undefined ? {} : { iceInterfaceAddresses: { udp4: this.o.iceAddress }, iceAdditionalHostAddresses: [this.o.iceAddress] };
    // werift falls back to stun.l.google.com when it has no STUN server: the direct call asks our own coturn.
    if (relay === undefined || creds === undefined) return { iceServers: [{ urls: directStunUrl(this.o.relayUrls) }], iceUseIpv6: false, ...local };
    const servername = this.servername(relay);
    return {
      // werift uses only the first TURN URL it is given, so each relay probe gets exactly one.
      iceServers: [{ urls: relay.url, username: creds.username, credential: creds.password }], iceTransportPolicy: 'relay', iceUseIpv6: false, ...local,
      ...(relay.transport === 'tls' ? { turnTlsOptions: { ...(ca === undefined ? {} : { ca }), ...(servername === undefined ? {} : { servername }) } } : {}),
    };
  }

  private servername(relay: TurnUrl): string | undefined {
    const name = this.o.relayServername ?? relay.host;
    return isIP(name) === 0 ? name : undefined;
  }

  /**
   * Allocate once with our own client over exactly this transport before werift tries: werift stalls ~12 s on a
   * rejected or unanswered allocation, falls back from UDP to TCP silently, and leaks its socket when it fails.
   */
  private async allocateFirst(relay: TurnUrl, creds: TurnCredentials, secureContext: SecureContext, timeoutMs: number): Promise<void> {
    const client = await TurnClient.connect({ transport: relay.transport, host: relay.host, port: relay.port, servername: this.servername(relay), secureContext, timeoutMs });
    try {
      await client.allocate(creds.username, creds.password);
    } catch (error) {
      if (error instanceof TurnError && error.code === 401) throw new Error(`coturn rejected the credentials (401): TURN_SECRET does not match coturn's static-auth-secret`);
      throw error;
    } finally {
      await client.close();
    }
  }

  private async call(relay: TurnUrl | undefined): Promise<Outcome> {
    const o = this.o;
    const mode = relay === undefined ? 'direct' : `relay:${turnPathName(relay)}`;
    const how = relay === undefined ? 'direct' : `TURN-relayed (${relay.url})`;
    const who = o.probeName ?? 'rtcops-health';
    const room = `${who}-media-${randomBytes(4).toString('hex')}`;
    const ca = o.ca !== undefined ? Buffer.from(o.ca) : o.caFile === undefined ? undefined : readFileSync(o.caFile);
    const secureContext = createSecureContext(ca === undefined ? {} : { ca });
    const stepTimeout = Math.max(2000, Math.floor(o.timeoutMs / 3));
    const closers: (() => unknown)[] = [];
    let step = 'signaling';
    try {
      let creds: TurnCredentials | undefined;
      if (relay !== undefined) {
        step = `TURN allocation over ${relay.transport.toUpperCase()} ${relay.host}:${relay.port}`;
        // A user of its own per call: coturn's user-quota counts allocations per user, and a call that failed can
        // leave werift's allocation behind until it expires; the next probes must not inherit that quota.
        creds = mintTurnCredentials(o.turnSecret ?? '', `${who}-media-${randomBytes(4).toString('hex')}`, 300);
        await this.allocateFirst(relay, creds, secureContext, Math.min(2000, stepTimeout));
        step = 'signaling';
      }
      const tx = await SignalingClient.connect({ url: o.signalingUrl, address: o.address, jwtSecret: o.jwtSecret, sub: `${who}-tx`, room, secureContext, timeoutMs: stepTimeout });
      closers.push(() => tx.close());
      const rx = await SignalingClient.connect({ url: o.signalingUrl, address: o.address, jwtSecret: o.jwtSecret, sub: `${who}-rx`, room, secureContext, timeoutMs: stepTimeout });
      closers.push(() => rx.close());
      await tx.request('join', { rtpCapabilities: OPUS_CAPS });
      await rx.request('join', { rtpCapabilities: OPUS_CAPS });

      step = 'producing';
      const config = this.rtcConfig(relay, creds, ca);
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

      step = `ICE + DTLS${relay === undefined ? '' : ' through TURN'}`;
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
      return { check: this.name, target: mode, status: 'ok', message: `a ${how} call connected in ${connectMs} ms; ${intact}/${o.packets} RTP packets came back intact`, values };
    } catch (error) {
      return { check: this.name, target: mode, status: 'critical', message: `a ${how} call failed at ${step}: ${(error as Error).message}`, values: {} };
    } finally {
      for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
    }
  }

  async run(): Promise<Outcome[]> {
    const results: Outcome[] = [await this.call(undefined)];
    for (const url of this.o.relayUrls) {
      if (this.o.stopAtFirstFailure === true && results.at(-1)?.status !== 'ok') break;
      results.push(await this.call(parseTurnUrl(url)));
    }
    return results;
  }
}
