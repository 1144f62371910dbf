import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { closeQuietly } from './mediasoup-calls.js';

/** How the room reaches a peer's socket. */
export interface PeerLink {
  notify(notification: string, data: Record<string, unknown>): void;
  /** Closes the peer's socket. */
  disconnect(code: number, reason: string): void;
}

export interface PeerTransport {
  transport: types.WebRtcTransport;
  direction: 'send' | 'recv';
  connected: boolean;
}

/**
 * A connected participant. It owns its transports, producers and consumers: nobody else may touch them. Once
 * closed it owns nothing, and anything a request creates for it afterwards must be closed at once (`adopt`).
 */
export class Peer {
  joined = false;
  closed = false;
  displayName: string | undefined;
  rtpCapabilities: types.RtpCapabilities | undefined;
  readonly transports = new Map<string, PeerTransport>();
  readonly producers = new Map<string, types.Producer>();
  readonly consumers = new Map<string, types.Consumer>();

  constructor(readonly id: string, readonly role: string | undefined, readonly link: PeerLink, private readonly log: Logger) {}

  /** Keeps a media object created for this peer; false (and closed) if the peer left while it was being created. */
  adopt(what: string, object: { close(): void }): boolean {
    if (!this.closed) return true;
    closeQuietly(object, this.log, what);
    return false;
  }

  close(): void {
    this.closed = true;
    // Closing a transport closes its producers and consumers too.
    for (const { transport } of this.transports.values()) closeQuietly(transport, this.log, 'transport');
    this.transports.clear();
    this.producers.clear();
    this.consumers.clear();
  }
}
