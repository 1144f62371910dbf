import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { extractToken, verifyToken, type PeerClaims } from './auth.js';
import type { ServerConfig } from './config.js';
import { ConnectionCounter, clientIp, clientIpFromRaw } from './limits.js';
import type { Metrics } from './metrics.js';
import { Peer } from './peer.js';
import { TEST_ROLE, testRoomAllowed } from './connection-test.js';
import { CloseCode } from './protocol.js';
import { parseRequestTarget } from './raw-path.js';
import type { Room, Seat } from './room.js';
import type { RoomRegistry } from './room-registry.js';
import { notification, send, serveSession } from './session.js';

export interface AdmissionDeps {
  cfg: ServerConfig;
  log: Logger;
  metrics: Metrics;
  rooms: RoomRegistry;
  isDraining: () => boolean;
}

/** Paths whose requests carry a peer token: an oversized request to them is a rejected token for fail2ban. */
const TOKEN_PATHS = new Set(['/signaling', '/turn-credentials']);

function refuseUpgrade(socket: Duplex, status: number, reason: string, message: string): void {
  if (socket.destroyed) return;
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    (status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '') + `\r\n${body}`,
  );
}

/**
 * Who may open a signaling socket, and into which room: the token first, then the per-IP limit, then a seat in
 * the room. Everything a connection holds (its IP slot, its seat) is given back when its TCP socket closes, however
 * the handshake ends: refused by ws, dropped by the client half-way, or completed and later closed.
 */
export class Admission {
  readonly sockets = new Set<WebSocket>();
  private readonly wss: WebSocketServer;
  private readonly connections: ConnectionCounter;

  constructor(private readonly deps: AdmissionDeps) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: deps.cfg.limits.maxMessageBytes, perMessageDeflate: false, clientTracking: false });
    this.connections = new ConnectionCounter(deps.cfg.limits.maxConnectionsPerIp);
  }

  /** The HTTP server's 'upgrade' listener. */
  readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    this.admit(req, socket, head).catch((err: unknown) => {
      this.deps.log.error({ event: 'upgrade_failed', err }, 'could not admit peer');
      this.deps.metrics.joinFailures.inc({ reason: 'error' });
      refuseUpgrade(socket, 503, 'Service Unavailable', 'server error; try again');
    });
  };

  /**
   * The HTTP server's 'clientError' listener. Node answers requests whose headers pass its limit with 431 before
   * any route sees them: a token that large is still a rejected token, so it is logged for fail2ban.
   */
  readonly onClientError = (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code !== 'HPE_HEADER_OVERFLOW') {
      // What Node answers when nobody listens for clientError.
      socket.end(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    const raw = err.rawPacket?.toString('latin1', 0, 16384) ?? '';
    const path = /^[A-Z]+ (\/[^ ?]*)/.exec(raw)?.[1];
    if (path !== undefined && TOKEN_PATHS.has(path)) {
      const ip = clientIpFromRaw((socket as { remoteAddress?: string }).remoteAddress, raw, this.deps.cfg.trustProxy);
      this.deps.log.warn({ event: 'auth_rejected', ip, reason: 'oversized', path }, 'signaling auth rejected');
      if (path === '/signaling') this.deps.metrics.joinFailures.inc({ reason: 'oversized' });
    }
    socket.end('HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n');
  };

  notifyAll(name: string, data: Record<string, unknown>): void {
    const text = notification(name, data);
    for (const ws of this.sockets) send(ws, text);
  }

  closeAll(code: number, reason: string): void {
    for (const ws of this.sockets) ws.close(code, reason);
  }

  private async admit(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { cfg, log, metrics, rooms } = this.deps;
    const target = parseRequestTarget(req.url);
    if (!target.ok) return refuseUpgrade(socket, 400, 'Bad Request', `ambiguous request target refused: ${target.reason}`);
    if (target.path !== '/signaling') return refuseUpgrade(socket, 404, 'Not Found', 'WebSocket endpoint is /signaling');
    const url = target.url;
    metrics.joinAttempts.inc();
    const ip = clientIp(req, cfg.trustProxy);
    const fail = (reason: string, status: number, text: string, message: string) => {
      metrics.joinFailures.inc({ reason });
      refuseUpgrade(socket, status, text, message);
    };
    if (this.deps.isDraining()) return fail('draining', 503, 'Service Unavailable', 'server is draining for a restart; reconnect shortly');
    // Authenticate before anything else is spent on the request: no socket without a valid token.
    const presented = extractToken(req, url);
    const auth = presented.ok ? verifyToken(presented.token, cfg.jwt, url.searchParams.get('room') ?? undefined) : presented;
    if (!auth.ok) {
      log.warn({ event: 'auth_rejected', ip, reason: auth.reason, path: '/signaling' }, 'signaling auth rejected');
      return fail(auth.reason, 401, 'Unauthorized', 'invalid or missing token');
    }
    if (!testRoomAllowed(auth.claims.role, auth.claims.room)) {
      log.warn({ event: 'auth_rejected', ip, reason: 'wrong_room', path: '/signaling' }, `signaling auth rejected: the ${TEST_ROLE} role and test rooms go only together`);
      return fail('wrong_room', 403, 'Forbidden', `the ${TEST_ROLE} role and test rooms go only together`);
    }
    if (!this.connections.tryAcquire(ip)) {
      log.warn({ event: 'ip_limited', ip, limit: cfg.limits.maxConnectionsPerIp }, 'too many connections from one address');
      return fail('ip_limit', 429, 'Too Many Requests', 'too many connections from your address');
    }
    let room: Room | undefined;
    let seat: Seat | undefined;
    socket.once('close', () => {
      this.connections.release(ip);
      seat?.cancel();
      if (room !== undefined) rooms.closeIfEmpty(room);
    });
    const claims = auth.claims;
    room = await rooms.getOrCreate(claims.room);
    if (room.closed) room = await rooms.getOrCreate(claims.room);
    if (socket.destroyed) return rooms.closeIfEmpty(room);
    seat = room.reserve(claims.sub, cfg.limits.maxPeersPerRoom);
    if (seat === undefined) {
      rooms.closeIfEmpty(room);
      return fail('room_full', 403, 'Forbidden', 'room is full');
    }
    const [r, s] = [room, seat];
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, r, s, claims, ip));
  }

  private open(ws: WebSocket, room: Room, seat: Seat, claims: PeerClaims, ip: string): void {
    const { cfg, log, metrics, rooms } = this.deps;
    if (room.closed) {
      ws.close(CloseCode.goingAway, 'server shutting down');
      return;
    }
    const { sub, role } = claims;
    const peer = new Peer(sub, role, {
      notify: (name, data) => send(ws, notification(name, data)),
      disconnect: (code, reason) => ws.close(code, reason),
    }, log);
    const { replaced } = seat.take(peer);
    this.sockets.add(ws);
    metrics.joinSuccesses.inc();
    log.info({ event: 'peer_connected', ip, room: room.id, peer: sub, role, replaced }, 'peer connected');
    ws.on('close', (code: number) => {
      this.sockets.delete(ws);
      room.removePeer(peer);
      rooms.closeIfEmpty(room);
      metrics.socketsClosed.inc({ reason: String(code) });
      log.info({ event: 'peer_left', room: room.id, peer: sub, code }, 'peer disconnected');
    });
    ws.on('error', (err) => log.debug({ event: 'socket_error', peer: sub, err: err.message }, 'socket error'));
    serveSession(ws, room, peer, (claims.exp + cfg.jwt.clockToleranceSec) * 1000, {
      cfg, log, metrics,
      verify: (token, roomId) => verifyToken(token, cfg.jwt, roomId),
    });
  }
}
