import type { types } from 'mediasoup';
import { mediaCodecs } from './media-codecs.js';
import type { WorkerSlot } from './worker-pool.js';

export type Notify = (notification: string, data: Record<string, unknown>) => void;

/** A connected participant. It owns its transports, producers and consumers: nobody else may touch them. */
export class Peer {
  joined = false;
  displayName: string | undefined;
  rtpCapabilities: types.RtpCapabilities | undefined;
  readonly transports = new Map<string, types.WebRtcTransport>();
  readonly producers = new Map<string, types.Producer>();
  readonly consumers = new Map<string, types.Consumer>();

  constructor(
    readonly id: string,
    readonly role: string | undefined,
    readonly notify: Notify,
    /** Closes this peer's socket. */
    readonly disconnect: (code: number, reason: string) => void,
  ) {}

  close(): void {
    // Closing a transport closes its producers and consumers too.
    for (const t of this.transports.values()) t.close();
    this.transports.clear();
    this.producers.clear();
    this.consumers.clear();
  }
}

/** A room: one mediasoup Router on one worker, and the peers in it. */
export class Room {
  readonly peers = new Map<string, Peer>();
  readonly createdAt = Date.now();
  /** Read once: mediasoup's getter deep-clones them on every access, and every joining peer asks. */
  readonly rtpCapabilities: types.RtpCapabilities;

  private constructor(readonly id: string, readonly router: types.Router, readonly slot: WorkerSlot) {
    this.rtpCapabilities = router.rtpCapabilities;
  }

  /**
   * The room counts against its worker from the moment creation starts (before the Router exists),
   * so a burst of new rooms is spread over the workers instead of all seeing the same counts.
   */
  static async create(id: string, slot: WorkerSlot): Promise<Room> {
    slot.rooms++;
    try {
      const router = await slot.worker.createRouter({ mediaCodecs, appData: { room: id } });
      return new Room(id, router, slot);
    } catch (err) {
      slot.rooms--;
      throw err;
    }
  }

  get closed(): boolean {
    return this.router.closed;
  }

  /** Sends a notification to every joined peer except `except`. */
  broadcast(notification: string, data: Record<string, unknown>, except?: Peer): void {
    for (const p of this.peers.values()) if (p !== except && p.joined) p.notify(notification, data);
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
    this.router.close();
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
