// @rtcops/client: a browser client for an rtcops server, on mediasoup-client. README.md, "The signaling protocol",
// describes what it sends; this file is the way an app is meant to use it.
import { Device, type types } from 'mediasoup-client';
import { TypedEvents } from './events.js';
import { CloseCode, SignalingError, SignalingSocket } from './signaling.js';

export { CloseCode, SignalingError } from './signaling.js';
export type { ErrorCode } from './signaling.js';

export type Direction = 'send' | 'recv';

export interface ClientOptions {
  /** wss://<domain>/signaling */
  url: string;
  /** The JWT, or a function that fetches a fresh one: then the session is refreshed before it expires and a
   *  reconnect uses a new token. */
  token: string | (() => string | Promise<string>);
  displayName?: string;
  /** TURN servers (from GET /turn-credentials: its `iceServers`). */
  iceServers?: RTCIceServer[];
  /** 'relay': media only through TURN. */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** Ask the server for TCP candidates only. */
  forceTcp?: boolean;
  /** Keep only some of the server's candidates (e.g. UDP only). */
  candidateFilter?: (candidate: types.IceCandidate) => boolean;
  /** Per request; default 10 s. */
  requestTimeoutMs?: number;
  /** Reconnect (and re-publish) when the connection drops unexpectedly; default true. */
  reconnect?: boolean;
}

export interface PeerInfo { peerId: string; displayName?: string; role?: string }
export interface RemoteProducer { producerId: string; peerId: string; kind: 'audio' | 'video' }

/** The server's view of one of this client's transports (getTransportStats). */
export interface ServerTransportStats {
  iceState?: string;
  dtlsState?: string;
  selectedTuple?: { protocol: string; localAddress?: string; localPort: number; remoteIp?: string; remotePort?: number } | null;
  bytesReceived?: number;
  bytesSent?: number;
  recvBitrate?: number;
  sendBitrate?: number;
  rtpPacketLossReceived?: number | null;
  rtpPacketLossSent?: number | null;
}

export interface ClientEvents extends Record<string, unknown> {
  peerJoined: PeerInfo;
  peerLeft: { peerId: string };
  newProducer: RemoteProducer;
  producerClosed: { producerId: string; peerId: string };
  producerPaused: { producerId: string; peerId: string };
  producerResumed: { producerId: string; peerId: string };
  /** A consumer ended because its producer closed (or the session was re-established: consume again). */
  consumerClosed: { consumerId: string; producerId: string };
  /** The server restarts soon: calls continue until `timeoutMs`; reconnecting afterwards lands on the new release. */
  serverDraining: { timeoutMs: number };
  connectionState: { direction: Direction; state: RTCPeerConnectionState };
  iceRestarted: { direction: Direction };
  disconnected: { code: number; reason: string; willReconnect: boolean };
  reconnected: { attempts: number };
  closed: { code: number; reason: string };
}

interface JoinReply { peers: PeerInfo[]; producers: RemoteProducer[] }

/** Codes after which reconnecting cannot help. */
const FINAL = new Set<number>([CloseCode.normal, CloseCode.replaced, CloseCode.malformed, CloseCode.rateLimited]);
const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 8000];
/** A transport 'disconnected' that lasts this long gets an ICE restart (Wi-Fi to cellular, a new address). */
const DISCONNECTED_GRACE_MS = 2000;
/** While it stays disconnected or failed (the network is still down, or the restart's request itself was lost), again after these. */
const ICE_RETRY_MS = [3000, 5000, 10_000, 20_000];
const REFRESH_BEFORE_EXPIRY_MS = 60_000;

function tokenExpiryMs(token: string): number | undefined {
  try {
    const payload = JSON.parse(atob((token.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export class RtcopsClient extends TypedEvents<ClientEvents> {
  readonly device = new Device();
  /** The other peers in the room. */
  readonly peers = new Map<string, PeerInfo>();
  private socket: SignalingSocket | undefined;
  private readonly transports = new Map<Direction, types.Transport>();
  private readonly producers = new Map<string, types.Producer>();
  private readonly consumers = new Map<string, types.Consumer>();
  private joined = false;
  private closedByUs = false;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly onOnline = () => { void this.restartIce().catch(() => undefined); };

  private constructor(private readonly o: ClientOptions) {
    super();
  }

  /** Opens the signaling connection (nothing is joined yet). */
  static async connect(options: ClientOptions): Promise<RtcopsClient> {
    const client = new RtcopsClient(options);
    await client.open();
    if (typeof window !== 'undefined') window.addEventListener('online', client.onOnline);
    return client;
  }

  /** Any signaling request (the typed methods below cover the protocol; this is for what they do not). */
  request<T = Record<string, unknown>>(method: string, data: Record<string, unknown> = {}): Promise<T> {
    if (this.socket === undefined) return Promise.reject(new SignalingError('closed', 'not connected'));
    return this.socket.request<T>(method, data);
  }

  /** Joins the token's room: the peers already there and the producers they publish. */
  async join(): Promise<JoinReply> {
    if (!this.device.loaded) {
      const routerRtpCapabilities = await this.request<types.RtpCapabilities>('getRouterRtpCapabilities');
      await this.device.load({ routerRtpCapabilities });
    }
    const reply = await this.request<JoinReply>('join', { rtpCapabilities: this.device.recvRtpCapabilities, ...(this.o.displayName !== undefined ? { displayName: this.o.displayName } : {}) });
    this.joined = true;
    this.peers.clear();
    for (const p of reply.peers) this.peers.set(p.peerId, p);
    return reply;
  }

  /** Publishes a track (a send transport is created on first use). The track stays the app's: closing the
   *  producer does not stop it (so a reconnect can publish it again). */
  async produce(track: MediaStreamTrack, options: Omit<types.ProducerOptions, 'track'> = {}): Promise<types.Producer> {
    const transport = await this.transport('send');
    const producer = await transport.produce({ stopTracks: false, ...options, track });
    this.producers.set(producer.id, producer);
    producer.observer.on('close', () => this.producers.delete(producer.id));
    return producer;
  }

  /** Receives a producer (a receive transport is created on first use); it arrives playing. */
  async consume(producerId: string): Promise<types.Consumer> {
    const transport = await this.transport('recv');
    const r = await this.request<{ consumerId: string; producerId: string; kind: 'audio' | 'video'; rtpParameters: types.RtpParameters; peerId: string }>('consume', { transportId: transport.id, producerId });
    const consumer = await transport.consume({ id: r.consumerId, producerId: r.producerId, kind: r.kind, rtpParameters: r.rtpParameters, appData: { peerId: r.peerId } });
    this.consumers.set(consumer.id, consumer);
    consumer.observer.on('close', () => this.consumers.delete(consumer.id));
    // The server creates consumers paused so that no packet arrives before the receiver exists.
    await this.request('resume', { consumerId: consumer.id });
    return consumer;
  }

  async pause(target: types.Producer | types.Consumer): Promise<void> {
    await this.request('pause', this.producers.has(target.id) ? { producerId: target.id } : { consumerId: target.id });
    target.pause();
  }

  async resume(target: types.Producer | types.Consumer): Promise<void> {
    await this.request('resume', this.producers.has(target.id) ? { producerId: target.id } : { consumerId: target.id });
    target.resume();
  }

  async closeProducer(producer: types.Producer): Promise<void> {
    producer.close();
    await this.request('closeProducer', { producerId: producer.id }).catch(() => undefined);
  }

  /** New ICE credentials on every transport, so the browser gathers candidates again (after a network change). */
  async restartIce(): Promise<void> {
    for (const [direction, transport] of this.transports) await this.restartTransportIce(direction, transport);
  }

  private async restartTransportIce(direction: Direction, transport: types.Transport): Promise<void> {
    if (transport.closed) return;
    const { iceParameters } = await this.request<{ iceParameters: types.IceParameters }>('restartIce', { transportId: transport.id });
    await transport.restartIce({ iceParameters });
    this.emit('iceRestarted', { direction });
  }

  /** A transport's connection state now ('new' before it exists). */
  connectionState(direction: Direction): RTCPeerConnectionState {
    return this.transports.get(direction)?.connectionState ?? 'new';
  }

  /** The server's figures for a transport (what it receives and sends, its ICE and DTLS state). */
  serverStats(direction: Direction): Promise<ServerTransportStats> {
    const t = this.transports.get(direction);
    if (t === undefined) return Promise.reject(new SignalingError('not_found', `no ${direction} transport yet`));
    return this.request<ServerTransportStats>('getTransportStats', { transportId: t.id });
  }

  /** The browser's WebRTC stats for a transport. */
  browserStats(direction: Direction): Promise<RTCStatsReport> {
    const t = this.transports.get(direction);
    if (t === undefined) return Promise.reject(new SignalingError('not_found', `no ${direction} transport yet`));
    return t.getStats();
  }

  /** Leaves and closes everything. */
  close(): void {
    this.closedByUs = true;
    clearTimeout(this.refreshTimer);
    if (typeof window !== 'undefined') window.removeEventListener('online', this.onOnline);
    this.closeMedia();
    this.socket?.close(CloseCode.normal, 'left');
  }

  private async token(): Promise<string> {
    return typeof this.o.token === 'string' ? this.o.token : await this.o.token();
  }

  private async open(): Promise<void> {
    const token = await this.token();
    this.socket = await SignalingSocket.open(this.o.url, token, {
      timeoutMs: this.o.requestTimeoutMs ?? 10_000,
      onNotification: (name, data) => this.notified(name, data),
      onClose: (code, reason) => void this.socketClosed(code, reason),
    });
    this.scheduleRefresh(token);
  }

  /** With a token function, the session gets a new token a minute before the current one expires. */
  private scheduleRefresh(token: string): void {
    clearTimeout(this.refreshTimer);
    const exp = tokenExpiryMs(token);
    if (typeof this.o.token === 'string' || exp === undefined) return;
    this.refreshTimer = setTimeout(() => {
      void (async () => {
        const next = await this.token();
        await this.request('refreshToken', { token: next });
        this.scheduleRefresh(next);
      })().catch(() => undefined);
    }, Math.max(1000, exp - Date.now() - REFRESH_BEFORE_EXPIRY_MS));
  }

  private async transport(direction: Direction): Promise<types.Transport> {
    const existing = this.transports.get(direction);
    if (existing !== undefined && !existing.closed) return existing;
    const r = await this.request<{ transportId: string; iceParameters: types.IceParameters; iceCandidates: types.IceCandidate[]; dtlsParameters: types.DtlsParameters }>('createWebRtcTransport', { direction, ...(this.o.forceTcp === true ? { forceTcp: true } : {}) });
    const options: types.TransportOptions = {
      id: r.transportId,
      iceParameters: r.iceParameters,
      iceCandidates: this.o.candidateFilter === undefined ? r.iceCandidates : r.iceCandidates.filter(this.o.candidateFilter),
      dtlsParameters: r.dtlsParameters,
      ...(this.o.iceServers !== undefined ? { iceServers: this.o.iceServers } : {}),
      ...(this.o.iceTransportPolicy !== undefined ? { iceTransportPolicy: this.o.iceTransportPolicy } : {}),
    };
    const transport = direction === 'send' ? this.device.createSendTransport(options) : this.device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        this.request<{ producerId: string }>('produce', { transportId: transport.id, kind, rtpParameters, ...(Object.keys(appData).length > 0 ? { appData } : {}) })
          .then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    // An ICE restart when the transport fails or stays disconnected, retried for as long as it stays so: a restart
    // sent while the network is still down (its request times out, or ICE fails again) must not be the last one.
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    const broken = () => !transport.closed && (transport.connectionState === 'disconnected' || transport.connectionState === 'failed');
    const later = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (!broken()) return;
        void this.restartTransportIce(direction, transport).catch(() => undefined).finally(() => {
          if (broken()) later(ICE_RETRY_MS[Math.min(attempt++, ICE_RETRY_MS.length - 1)]!);
        });
      }, ms);
    };
    transport.on('connectionstatechange', (state) => {
      this.emit('connectionState', { direction, state });
      if (state === 'connected') attempt = 0;
      if (state === 'failed') later(0);
      else if (state === 'disconnected') later(DISCONNECTED_GRACE_MS);
      else clearTimeout(timer);
    });
    transport.observer.on('close', () => clearTimeout(timer));
    this.transports.set(direction, transport);
    return transport;
  }

  private notified(name: string, data: Record<string, unknown>): void {
    switch (name) {
      case 'peerJoined': this.peers.set(String(data['peerId']), data as unknown as PeerInfo); break;
      case 'peerLeft': this.peers.delete(String(data['peerId'])); break;
      case 'consumerClosed': this.consumers.get(String(data['consumerId']))?.close(); break;
      default: break;
    }
    this.emit(name as keyof ClientEvents, data as never);
  }

  private closeMedia(): void {
    for (const c of this.consumers.values()) c.close();
    for (const t of this.transports.values()) t.close();
    this.transports.clear();
  }

  private async socketClosed(code: number, reason: string): Promise<void> {
    this.socket = undefined;
    const canRenew = code === CloseCode.tokenExpired && typeof this.o.token !== 'string';
    const willReconnect = !this.closedByUs && this.o.reconnect !== false && !FINAL.has(code) && (code !== CloseCode.tokenExpired || canRenew);
    this.emit('disconnected', { code, reason, willReconnect });
    if (!willReconnect) {
      this.closeMedia();
      this.emit('closed', { code, reason });
      return;
    }
    // The server dropped this peer with its socket: its transports, producers and consumers are gone there.
    const tracks = [...this.producers.values()].filter((p) => !p.closed && p.track !== null).map((p) => ({ track: p.track as MediaStreamTrack, appData: p.appData, paused: p.paused }));
    for (const c of [...this.consumers.values()]) {
      c.close();
      this.emit('consumerClosed', { consumerId: c.id, producerId: c.producerId });
    }
    for (const p of this.producers.values()) p.close();
    this.producers.clear();
    this.closeMedia();
    for (let attempt = 0; !this.closedByUs; attempt++) {
      await new Promise((r) => setTimeout(r, RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)]));
      try {
        await this.open();
        const wasJoined = this.joined;
        if (wasJoined) {
          const reply = await this.join();
          for (const t of tracks) {
            const p = await this.produce(t.track, { appData: t.appData });
            if (t.paused) await this.pause(p);
          }
          for (const p of reply.producers) this.emit('newProducer', p);
        }
        this.emit('reconnected', { attempts: attempt + 1 });
        return;
      } catch {
        // Next attempt, later.
      }
    }
  }
}
