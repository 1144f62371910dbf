import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { closeQuietly } from './mediasoup-calls.js';
import { mediaCodecs, routerRtpCapabilities } from './media-codecs.js';
import type { Peer } from './peer.js';
import { CloseCode, type Preserialized } from './protocol.js';
import type { WorkerSlot } from './worker-pool.js';

/** A place held in a room for a peer whose WebSocket handshake is still under way. */
export interface Seat {
  /** Puts the peer in its seat, replacing (and disconnecting) an earlier connection of the same peer. */
  take(peer: Peer): { replaced: boolean };
  /** The handshake did not complete: frees the seat. */
  cancel(): void;
}

/** A room: one mediasoup Router on one worker, the peers in it, and the seats held for peers still connecting. */
export class Room {
  readonly peers = new Map<string, Peer>();
  readonly createdAt = Date.now();
  /** Every joining peer asks for them (see media-codecs.ts). */
  readonly rtpCapabilities: Preserialized = routerRtpCapabilities;
  private seats = 0;

  private constructor(readonly id: string, readonly router: types.Router, readonly slot: WorkerSlot, private readonly log: Logger) {}

  /**
   * The room counts against its worker from the moment creation starts (before the Router exists),
   * so a burst of new rooms is spread over the workers instead of all seeing the same counts.
   */
  static async create(id: string, slot: WorkerSlot, log: Logger): Promise<Room> {
    slot.rooms++;
    try {
      const router = await slot.worker.createRouter({ mediaCodecs, appData: { room: id } });
      return new Room(id, router, slot, log);
    } catch (err) {
      slot.rooms--;
      throw err;
    }
  }

  get closed(): boolean {
    return this.router.closed;
  }

  /** No peers and no seats held: the room can be closed. */
  get empty(): boolean {
    return this.peers.size === 0 && this.seats === 0;
  }

  /** A seat for `peerId`, or undefined when the room is full. A peer already in the room always gets one: it replaces itself. */
  reserve(peerId: string, maxPeers: number): Seat | undefined {
    if (!this.peers.has(peerId) && this.peers.size + this.seats >= maxPeers) return undefined;
    this.seats++;
    let held = true;
    const free = () => {
      if (held) { held = false; this.seats--; }
    };
    return {
      take: (peer) => {
        free();
        const previous = this.peers.get(peer.id);
        if (previous !== undefined) {
          this.removePeer(previous);
          previous.link.disconnect(CloseCode.replaced, 'replaced by a new connection');
        }
        this.peers.set(peer.id, peer);
        return { replaced: previous !== undefined };
      },
      cancel: free,
    };
  }

  /** Sends a notification to every joined peer except `except`. */
  broadcast(notification: string, data: Record<string, unknown>, except?: Peer): void {
    for (const p of this.peers.values()) if (p !== except && p.joined) p.link.notify(notification, data);
  }

  /** Removes a peer, closes what it owned and tells the others. */
  removePeer(peer: Peer): void {
    if (this.peers.get(peer.id) !== peer) return;
    this.peers.delete(peer.id);
    peer.close();
    if (peer.joined) this.broadcast('peerLeft', { peerId: peer.id });
  }

  close(): void {
    if (this.router.closed) return;
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    closeQuietly(this.router, this.log, 'router');
    this.slot.rooms--;
  }

  counts(): { peers: number; transports: number; producers: number; consumers: number } {
    let transports = 0;
    let producers = 0;
    let consumers = 0;
    for (const p of this.peers.values()) {
      transports += p.transports.size;
      producers += p.producers.size;
      consumers += p.consumers.size;
    }
    return { peers: this.peers.size, transports, producers, consumers };
  }
}
