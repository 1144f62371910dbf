import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { ServerConfig } from './config.js';
import { TEST_ROLE } from './connection-test.js';
import type { Metrics } from './metrics.js';
import { clientCall, closeQuietly } from './mediasoup-calls.js';
import type { Peer, PeerTransport } from './peer.js';
import { type Method, type MethodData, SignalingError } from './protocol.js';
import type { Room } from './room.js';

export interface SessionContext {
  room: Room;
  peer: Peer;
  cfg: ServerConfig;
  log: Logger;
  metrics: Metrics;
  /** Ends the session (the peer asked to leave). */
  leave: () => void;
  /** Moves the session's end to a new token's expiry; throws a SignalingError if the token is not valid for this peer. */
  refresh: (token: string) => void;
}

type Handler<M extends Method> = (ctx: SessionContext, data: MethodData<M>) => unknown;

function requireJoined(peer: Peer): void {
  if (!peer.joined) throw new SignalingError('not_joined', 'send "join" first');
}

function ownTransport(peer: Peer, id: string): PeerTransport {
  const t = peer.transports.get(id);
  if (t === undefined) throw new SignalingError('not_found', `transport ${id} not found`);
  return t;
}

function ownProducer(peer: Peer, id: string): types.Producer {
  const p = peer.producers.get(id);
  if (p === undefined) throw new SignalingError('not_found', `producer ${id} not found`);
  return p;
}

function ownConsumer(peer: Peer, id: string): types.Consumer {
  const c = peer.consumers.get(id);
  if (c === undefined) throw new SignalingError('not_found', `consumer ${id} not found`);
  return c;
}

function atMost(count: number, limit: number, what: string): void {
  if (count >= limit) throw new SignalingError('forbidden', `at most ${limit} ${what} per peer`);
}

function producerOwner(room: Room, producerId: string): { owner: Peer; producer: types.Producer } | undefined {
  for (const owner of room.peers.values()) {
    const producer = owner.producers.get(producerId);
    if (producer !== undefined) return { owner, producer };
  }
  return undefined;
}

/** The peer left while its request was waiting for the worker: what was made for it is already closed. */
const gone = () => new SignalingError('conflict', 'the peer left while the request was in progress');

/** The worker refuses a second producer on one transport with the same MID, SSRC or RID: that is the client's mistake. */
function refuseClashes(peer: Peer, transportId: string, p: types.RtpParameters): void {
  const taken = { mid: new Set<string>(), ssrc: new Set<number>(), rid: new Set<string>() };
  for (const existing of peer.producers.values()) {
    if (existing.appData['transportId'] !== transportId) continue;
    const r = existing.rtpParameters;
    if (r.mid !== undefined) taken.mid.add(r.mid);
    for (const e of r.encodings ?? []) {
      if (e.ssrc !== undefined) taken.ssrc.add(e.ssrc);
      if (e.rtx?.ssrc !== undefined) taken.ssrc.add(e.rtx.ssrc);
      if (e.rid !== undefined) taken.rid.add(e.rid);
    }
  }
  if (p.mid !== undefined && taken.mid.has(p.mid)) throw new SignalingError('conflict', `mid "${p.mid}" is already used on this transport`);
  for (const e of p.encodings ?? []) {
    for (const s of [e.ssrc, e.rtx?.ssrc]) if (s !== undefined && taken.ssrc.has(s)) throw new SignalingError('conflict', `ssrc ${s} is already used on this transport`);
    if (e.rid !== undefined && taken.rid.has(e.rid)) throw new SignalingError('conflict', `rid "${e.rid}" is already used on this transport`);
  }
}

function transportOptions(cfg: ServerConfig, room: Room, forceTcp: boolean): types.WebRtcTransportOptions {
  const common = { enableUdp: !forceTcp, enableTcp: true, preferUdp: true };
  const webRtcServer = room.slot.webRtcServer;
  if (webRtcServer !== undefined) return { webRtcServer, ...common };
  const base = {
    ip: cfg.listenIp,
    portRange: { min: cfg.rtcMinPort, max: cfg.rtcMaxPort },
    ...(cfg.announcedIp !== undefined ? { announcedAddress: cfg.announcedIp } : {}),
  };
  const listenInfos: types.TransportListenInfo[] = forceTcp ? [{ protocol: 'tcp', ...base }] : [{ protocol: 'udp', ...base }, { protocol: 'tcp', ...base }];
  return { listenInfos, ...common };
}

/**
 * One handler per request method; each may touch only the requesting peer's own objects. A peer's requests run
 * one at a time (session.ts), so a limit checked before an await still holds after it.
 */
export const handlers: { [M in Method]: Handler<M> } = {
  getRouterRtpCapabilities: ({ room }) => room.rtpCapabilities,

  join: ({ room, peer }, data) => {
    if (peer.joined) throw new SignalingError('conflict', 'already joined');
    peer.rtpCapabilities = data.rtpCapabilities;
    peer.displayName = data.displayName;
    peer.joined = true;
    const others = [...room.peers.values()].filter((p) => p !== peer && p.joined);
    room.broadcast('peerJoined', { peerId: peer.id, displayName: peer.displayName, role: peer.role }, peer);
    return {
      peers: others.map((p) => ({ peerId: p.id, displayName: p.displayName, role: p.role })),
      producers: others.flatMap((p) => [...p.producers.values()].map((pr) => ({ producerId: pr.id, peerId: p.id, kind: pr.kind }))),
    };
  },

  createWebRtcTransport: async ({ room, peer, cfg }, { direction, forceTcp }) => {
    atMost(peer.transports.size, cfg.limits.maxTransportsPerPeer, 'transports');
    const transport = await room.router.createWebRtcTransport(transportOptions(cfg, room, forceTcp === true));
    if (!peer.adopt('transport', transport)) throw gone();
    peer.transports.set(transport.id, { transport, direction, connected: false });
    transport.observer.on('close', () => peer.transports.delete(transport.id));
    return {
      transportId: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
    };
  },

  // After a network change the client gathers new candidates; the transport keeps its producers and consumers.
  restartIce: async ({ peer }, { transportId }) => {
    const { transport } = ownTransport(peer, transportId);
    return { iceParameters: await transport.restartIce() };
  },

  getTransportStats: async ({ peer }, { transportId }) => {
    const { transport } = ownTransport(peer, transportId);
    const [s] = await transport.getStats();
    if (s === undefined) return {};
    const t = s.iceSelectedTuple;
    return {
      iceState: s.iceState, dtlsState: s.dtlsState,
      selectedTuple: t === undefined ? null : { protocol: t.protocol, localAddress: t.localAddress, localPort: t.localPort, remoteIp: t.remoteIp, remotePort: t.remotePort },
      bytesReceived: s.bytesReceived, bytesSent: s.bytesSent, recvBitrate: s.recvBitrate, sendBitrate: s.sendBitrate,
      rtpPacketLossReceived: s.rtpPacketLossReceived ?? null, rtpPacketLossSent: s.rtpPacketLossSent ?? null,
    };
  },

  connectTransport: async ({ peer }, { transportId, dtlsParameters }) => {
    const entry = ownTransport(peer, transportId);
    if (entry.connected) throw new SignalingError('conflict', `transport ${transportId} is already connected`);
    await clientCall(entry.transport, 'dtlsParameters', () => entry.transport.connect({ dtlsParameters }));
    entry.connected = true;
    return {};
  },

  produce: async ({ room, peer, cfg, log }, { transportId, kind, rtpParameters, appData }) => {
    requireJoined(peer);
    if (cfg.producerRoles !== undefined && peer.role !== TEST_ROLE && !cfg.producerRoles.includes(peer.role ?? '')) {
      throw new SignalingError('forbidden', `role "${peer.role ?? ''}" may not produce`);
    }
    atMost(peer.producers.size, cfg.limits.maxProducersPerPeer, 'producers');
    const { transport, direction } = ownTransport(peer, transportId);
    if (direction !== 'send') throw new SignalingError('bad_request', 'produce needs a transport created with direction "send"');
    refuseClashes(peer, transportId, rtpParameters);
    const producer = await clientCall(transport, 'rtpParameters', () => transport.produce({
      kind,
      rtpParameters,
      appData: { ...appData, peerId: peer.id, transportId },
    }));
    if (!peer.adopt('producer', producer)) throw gone();
    peer.producers.set(producer.id, producer);
    producer.observer.on('close', () => {
      peer.producers.delete(producer.id);
      room.broadcast('producerClosed', { producerId: producer.id, peerId: peer.id }, peer);
    });
    log.debug({ event: 'producer_created', producer: producer.id, kind }, 'producer created');
    room.broadcast('newProducer', { producerId: producer.id, peerId: peer.id, kind }, peer);
    return { producerId: producer.id };
  },

  consume: async ({ room, peer, cfg, log }, { transportId, producerId, rtpCapabilities }) => {
    requireJoined(peer);
    atMost(peer.consumers.size, cfg.limits.maxConsumersPerPeer, 'consumers');
    const { transport, direction } = ownTransport(peer, transportId);
    if (direction !== 'recv') throw new SignalingError('bad_request', 'consume needs a transport created with direction "recv"');
    const found = producerOwner(room, producerId);
    if (found === undefined) throw new SignalingError('not_found', `producer ${producerId} not found`);
    // The connection test sends its media through the SFU and back to itself (test rooms only, see admission).
    if (found.owner === peer && peer.role !== TEST_ROLE) throw new SignalingError('bad_request', 'a peer cannot consume its own producer');
    for (const c of peer.consumers.values()) {
      if (c.producerId === producerId) throw new SignalingError('conflict', `already consuming producer ${producerId} (consumer ${c.id})`);
    }
    const caps = rtpCapabilities ?? peer.rtpCapabilities;
    if (caps === undefined) throw new SignalingError('bad_request', 'send rtpCapabilities with "join" or "consume"');
    if (!room.router.canConsume({ producerId, rtpCapabilities: caps })) {
      throw new SignalingError('bad_request', 'your rtpCapabilities cannot receive this producer\'s codec');
    }
    // Paused until the client has set up its receiver and sends "resume", so no early packets are lost.
    const consumer = await clientCall(transport, 'rtpCapabilities', () => transport.consume({ producerId, rtpCapabilities: caps, paused: true }));
    if (!peer.adopt('consumer', consumer)) throw gone();
    if (found.producer.closed) {
      closeQuietly(consumer, log, 'consumer');
      throw new SignalingError('not_found', `producer ${producerId} closed`);
    }
    peer.consumers.set(consumer.id, consumer);
    consumer.on('producerclose', () => {
      closeQuietly(consumer, log, 'consumer');
      peer.link.notify('consumerClosed', { consumerId: consumer.id, producerId });
    });
    consumer.observer.on('close', () => peer.consumers.delete(consumer.id));
    return { consumerId: consumer.id, producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters, peerId: found.owner.id };
  },

  // A paused producer sends nothing: the others are told, so their apps can show it (muted, camera off).
  pause: async ({ room, peer }, data) => {
    if ('consumerId' in data) {
      await ownConsumer(peer, data.consumerId).pause();
      return {};
    }
    const producer = ownProducer(peer, data.producerId);
    if (!producer.paused) {
      await producer.pause();
      room.broadcast('producerPaused', { producerId: producer.id, peerId: peer.id }, peer);
    }
    return {};
  },

  resume: async ({ room, peer }, data) => {
    if ('consumerId' in data) {
      await ownConsumer(peer, data.consumerId).resume();
      return {};
    }
    const producer = ownProducer(peer, data.producerId);
    if (producer.paused) {
      await producer.resume();
      room.broadcast('producerResumed', { producerId: producer.id, peerId: peer.id }, peer);
    }
    return {};
  },

  closeProducer: ({ peer, log }, { producerId }) => {
    closeQuietly(ownProducer(peer, producerId), log, 'producer');
    return {};
  },

  leave: ({ leave }) => {
    leave();
    return {};
  },

  refreshToken: ({ refresh }, { token }) => {
    refresh(token);
    return {};
  },

  // The page's results, so the operator sees them in the log and /metrics without asking for screenshots.
  reportConnectionTest: ({ peer, log, metrics }, report) => {
    if (peer.role !== TEST_ROLE) throw new SignalingError('forbidden', `only tokens of the ${TEST_ROLE} role report connection tests`);
    for (const r of report.results) metrics.connectionTests.inc({ path: r.path, outcome: r.ok ? 'pass' : 'fail' });
    const passed = report.results.filter((r) => r.ok).map((r) => r.path);
    log.info({ event: 'connection_test', results: report.results, userAgent: report.userAgent }, `connection test: ${passed.length}/${report.results.length} paths passed${passed.length > 0 ? ` (${passed.join(', ')})` : ''}`);
    return {};
  },
};
