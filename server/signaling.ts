import type { types } from 'mediasoup';
import type { ServerConfig } from './config.js';
import { type Method, type MethodData, SignalingError } from './protocol.js';
import type { Peer, Room } from './room.js';

export interface SessionContext {
  room: Room;
  peer: Peer;
  cfg: ServerConfig;
  /** Ends the session (the peer asked to leave). */
  leave: () => void;
}

type Handler<M extends Method> = (ctx: SessionContext, data: MethodData<M>) => unknown;

const MAX_TRANSPORTS_PER_PEER = 4;
const MAX_PRODUCERS_PER_PEER = 8;

function requireJoined(peer: Peer): void {
  if (!peer.joined) throw new SignalingError('not_joined', 'send "join" first');
}

function ownTransport(peer: Peer, id: string): types.WebRtcTransport {
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

function producerOwner(room: Room, producerId: string): { owner: Peer; producer: types.Producer } | undefined {
  for (const owner of room.peers.values()) {
    const producer = owner.producers.get(producerId);
    if (producer !== undefined) return { owner, producer };
  }
  return undefined;
}

/** mediasoup rejects invalid parameters with a TypeError: that is the client's mistake, not ours. */
async function clientInput<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TypeError) throw new SignalingError('bad_request', `${what}: ${err.message}`);
    throw err;
  }
}

/** One handler per request method; each may touch only the requesting peer's own objects. */
export const handlers: { [M in Method]: Handler<M> } = {
  getRouterRtpCapabilities: ({ room }) => room.rtpCapabilities,

  join: ({ room, peer }, data) => {
    if (peer.joined) throw new SignalingError('conflict', 'already joined');
    peer.rtpCapabilities = data.rtpCapabilities as types.RtpCapabilities;
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
    if (peer.transports.size >= MAX_TRANSPORTS_PER_PEER) {
      throw new SignalingError('forbidden', `at most ${MAX_TRANSPORTS_PER_PEER} transports per peer`);
    }
    const common = { enableUdp: forceTcp !== true, enableTcp: true, preferUdp: true, appData: { peerId: peer.id, direction } };
    const webRtcServer = room.slot.webRtcServer;
    let transport: types.WebRtcTransport;
    if (webRtcServer !== undefined) {
      transport = await room.router.createWebRtcTransport({ webRtcServer, ...common });
    } else {
      const base = {
        ip: cfg.listenIp,
        portRange: { min: cfg.rtcMinPort, max: cfg.rtcMaxPort },
        ...(cfg.announcedIp !== undefined ? { announcedAddress: cfg.announcedIp } : {}),
      };
      const listenInfos: types.TransportListenInfo[] = forceTcp === true
        ? [{ protocol: 'tcp', ...base }]
        : [{ protocol: 'udp', ...base }, { protocol: 'tcp', ...base }];
      transport = await room.router.createWebRtcTransport({ listenInfos, ...common });
    }
    if (peer.transports.size >= MAX_TRANSPORTS_PER_PEER || !room.peers.has(peer.id)) {
      // The peer left or raced past the limit while the transport was being created.
      transport.close();
      throw new SignalingError('conflict', 'peer is gone or at its transport limit');
    }
    peer.transports.set(transport.id, transport);
    transport.observer.on('close', () => peer.transports.delete(transport.id));
    return {
      transportId: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
    };
  },

  connectTransport: async ({ peer }, { transportId, dtlsParameters }) => {
    const transport = ownTransport(peer, transportId);
    await clientInput('dtlsParameters', () => transport.connect({ dtlsParameters: dtlsParameters as types.DtlsParameters }));
    return {};
  },

  produce: async ({ room, peer, cfg }, { transportId, kind, rtpParameters, appData }) => {
    requireJoined(peer);
    if (cfg.producerRoles !== undefined && !cfg.producerRoles.includes(peer.role ?? '')) {
      throw new SignalingError('forbidden', `role "${peer.role ?? ''}" may not produce`);
    }
    if (peer.producers.size >= MAX_PRODUCERS_PER_PEER) {
      throw new SignalingError('forbidden', `at most ${MAX_PRODUCERS_PER_PEER} producers per peer`);
    }
    const transport = ownTransport(peer, transportId);
    if (transport.appData['direction'] !== 'send') throw new SignalingError('bad_request', 'produce needs a transport created with direction "send"');
    const producer = await clientInput('rtpParameters', () => transport.produce({
      kind,
      rtpParameters: rtpParameters as types.RtpParameters,
      appData: { ...(appData ?? {}), peerId: peer.id },
    }));
    peer.producers.set(producer.id, producer);
    producer.observer.on('close', () => {
      peer.producers.delete(producer.id);
      room.broadcast('producerClosed', { producerId: producer.id, peerId: peer.id }, peer);
    });
    room.broadcast('newProducer', { producerId: producer.id, peerId: peer.id, kind }, peer);
    return { producerId: producer.id };
  },

  consume: async ({ room, peer }, { transportId, producerId, rtpCapabilities }) => {
    requireJoined(peer);
    const transport = ownTransport(peer, transportId);
    if (transport.appData['direction'] !== 'recv') throw new SignalingError('bad_request', 'consume needs a transport created with direction "recv"');
    const found = producerOwner(room, producerId);
    if (found === undefined) throw new SignalingError('not_found', `producer ${producerId} not found`);
    if (found.owner === peer) throw new SignalingError('bad_request', 'a peer cannot consume its own producer');
    const caps = (rtpCapabilities ?? peer.rtpCapabilities) as types.RtpCapabilities;
    if (!room.router.canConsume({ producerId, rtpCapabilities: caps })) {
      throw new SignalingError('bad_request', 'your rtpCapabilities cannot receive this producer\'s codec');
    }
    // Paused until the client has set up its receiver and sends "resume", so no early packets are lost.
    const consumer = await transport.consume({ producerId, rtpCapabilities: caps, paused: true });
    peer.consumers.set(consumer.id, consumer);
    consumer.on('producerclose', () => {
      consumer.close();
      peer.notify('consumerClosed', { consumerId: consumer.id, producerId });
    });
    consumer.observer.on('close', () => peer.consumers.delete(consumer.id));
    return { consumerId: consumer.id, producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters, peerId: found.owner.id };
  },

  pause: async ({ peer }, data) => {
    if ('consumerId' in data) await ownConsumer(peer, data.consumerId).pause();
    else await ownProducer(peer, data.producerId).pause();
    return {};
  },

  resume: async ({ peer }, data) => {
    if ('consumerId' in data) await ownConsumer(peer, data.consumerId).resume();
    else await ownProducer(peer, data.producerId).resume();
    return {};
  },

  closeProducer: ({ peer }, { producerId }) => {
    ownProducer(peer, producerId).close();
    return {};
  },

  leave: ({ leave }) => {
    leave();
    return {};
  },
};
