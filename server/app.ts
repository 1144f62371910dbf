import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { extractToken, verifyToken } from './auth.js';
import type { ServerConfig } from './config.js';
import { createRequestHandler } from './http-routes.js';
import { ConnectionCounter, clientIp } from './limits.js';
import { Metrics } from './metrics.js';
import { CloseCode } from './protocol.js';
import { Peer } from './room.js';
import { RoomRegistry } from './room-registry.js';
import { send, serveSession } from './session.js';
import { StatsCollector } from './stats.js';
import { WorkerPool, type WorkerSlot } from './worker-pool.js';

export interface RunningServer {
  readonly port: number;
  readonly draining: boolean;
  /** Stops accepting joins, tells peers, waits up to cfg.drainTimeoutMs for rooms to empty, then closes. */
  drain(): Promise<void>;
  /** Closes everything now. */
  close(): Promise<void>;
}

export interface StartOptions {
  log: Logger;
  /** A worker died: the process cannot serve its rooms any more. main.ts exits non-zero so PM2 restarts it. */
  onFatal: (err: Error) => void;
}

const READY_CHECK_TIMEOUT_MS = 2000;

function refuseUpgrade(socket: Duplex, status: number, reason: string, message: string): void {
  if (socket.destroyed) return;
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    (status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '') + `\r\n${body}`,
  );
}

/** The composition root: workers, then rooms, then HTTP and WebSocket, in that order. */
export async function startServer(cfg: ServerConfig, opts: StartOptions): Promise<RunningServer> {
  const { log } = opts;
  let draining = false;
  const pool = await WorkerPool.start(cfg, log, (slot: WorkerSlot, err: Error) => {
    log.fatal({ event: 'worker_died', worker: slot.index, workerPid: slot.worker.pid, error: err.message }, 'mediasoup worker died');
    opts.onFatal(err);
  });
  const rooms = new RoomRegistry(pool, log);
  const stats = new StatsCollector(pool, rooms, () => draining);
  const metrics = new Metrics(stats);
  const connections = new ConnectionCounter(cfg.limits.maxConnectionsPerIp);
  const sockets = new Set<WebSocket>();
  let readyProbe = 0;

  const checkReady = async () => {
    if (!pool.allAlive()) throw new Error('a mediasoup worker is not running');
    const slot = pool.slots[readyProbe++ % pool.slots.length];
    if (slot === undefined) throw new Error('no workers');
    let timer: NodeJS.Timeout | undefined;
    const router = await Promise.race([
      slot.worker.createRouter({ mediaCodecs: [] }),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`worker ${slot.index} did not create a router within ${READY_CHECK_TIMEOUT_MS} ms`)), READY_CHECK_TIMEOUT_MS); }),
    ]).finally(() => clearTimeout(timer));
    router.close();
  };

  const http = createServer(createRequestHandler({ cfg, log, metrics, stats, isDraining: () => draining, checkReady }));
  const wss = new WebSocketServer({ noServer: true, maxPayload: cfg.limits.maxMessageBytes, perMessageDeflate: false });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    void admit(req, socket, head).catch((err: unknown) => {
      log.error({ event: 'upgrade_failed', err }, 'could not admit peer');
      metrics.joinFailures.inc({ reason: 'error' });
      refuseUpgrade(socket, 503, 'Service Unavailable', 'server error; try again');
    });
  });

  async function admit(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/signaling') return refuseUpgrade(socket, 404, 'Not Found', 'WebSocket endpoint is /signaling');
    metrics.joinAttempts.inc();
    const ip = clientIp(req, cfg.trustProxy);
    const fail = (reason: string, status: number, text: string, message: string) => {
      metrics.joinFailures.inc({ reason });
      refuseUpgrade(socket, status, text, message);
    };
    if (draining) return fail('draining', 503, 'Service Unavailable', 'server is draining for a restart; reconnect shortly');
    // Authenticate before anything else is spent on the request: no socket without a valid token.
    const auth = verifyToken(extractToken(req, url), cfg.jwt, url.searchParams.get('room') ?? undefined);
    if (!auth.ok) {
      log.warn({ event: 'auth_rejected', ip, reason: auth.reason, path: '/signaling' }, 'signaling auth rejected');
      return fail(auth.reason, 401, 'Unauthorized', 'invalid or missing token');
    }
    if (!connections.tryAcquire(ip)) {
      log.warn({ event: 'ip_limited', ip, limit: cfg.limits.maxConnectionsPerIp }, 'too many connections from one address');
      return fail('ip_limit', 429, 'Too Many Requests', 'too many connections from your address');
    }
    let released = false;
    const release = () => { if (!released) { released = true; connections.release(ip); } };
    try {
      const { sub, room: roomId, role } = auth.claims;
      let room = await rooms.getOrCreate(roomId);
      if (room.closed) room = await rooms.getOrCreate(roomId);
      const previous = room.peers.get(sub);
      if (previous === undefined && room.peers.size >= cfg.limits.maxPeersPerRoom) {
        rooms.closeIfEmpty(room);
        release();
        return fail('room_full', 403, 'Forbidden', 'room is full');
      }
      if (socket.destroyed) {
        rooms.closeIfEmpty(room);
        release();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const replaced = room.peers.get(sub);
        const peer = new Peer(sub, role, (notification, data) => send(ws, { notification, data }), (code, reason) => ws.close(code, reason));
        if (replaced !== undefined) {
          room.removePeer(replaced);
          replaced.disconnect(CloseCode.replaced, 'replaced by a new connection');
        }
        room.peers.set(sub, peer);
        sockets.add(ws);
        metrics.joinSuccesses.inc();
        log.info({ event: 'peer_connected', ip, room: roomId, peer: sub, role, replaced: replaced !== undefined }, 'peer connected');
        let alive = true;
        ws.on('pong', () => { alive = true; });
        const heartbeat = setInterval(() => {
          if (!alive) {
            log.info({ event: 'peer_timeout', room: roomId, peer: sub }, 'no pong: closing stale peer');
            metrics.socketsClosed.inc({ reason: 'heartbeat_timeout' });
            ws.terminate();
            return;
          }
          alive = false;
          ws.ping();
        }, cfg.limits.heartbeatIntervalMs);
        ws.on('close', (code: number) => {
          clearInterval(heartbeat);
          sockets.delete(ws);
          release();
          room.removePeer(peer);
          rooms.closeIfEmpty(room);
          metrics.socketsClosed.inc({ reason: String(code) });
          log.info({ event: 'peer_left', room: roomId, peer: sub, code }, 'peer disconnected');
        });
        ws.on('error', (err) => log.debug({ event: 'socket_error', peer: sub, err: err.message }, 'socket error'));
        serveSession(ws, room, peer, { cfg, log, metrics });
      });
    } catch (err) {
      release();
      throw err;
    }
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(cfg.port, cfg.host, () => { http.off('error', reject); resolve(); });
  });
  const port = (http.address() as AddressInfo).port;
  log.info({ event: 'listening', host: cfg.host, port, workers: cfg.numWorkers, mode: cfg.webRtcServerPort === undefined ? 'port-range' : 'webrtc-server' }, 'rtcops server listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const ws of sockets) ws.close(CloseCode.goingAway, 'server shutting down');
      rooms.closeAll();
      pool.close();
      stats.stop();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    })();
    return closing;
  };

  let drained: Promise<void> | undefined;
  const drain = (): Promise<void> => {
    drained ??= (async () => {
      draining = true;
      const deadline = Date.now() + cfg.drainTimeoutMs;
      log.info({ event: 'drain_started', rooms: rooms.size, peers: sockets.size, timeoutMs: cfg.drainTimeoutMs }, 'draining: no new joins');
      for (const ws of sockets) send(ws, { notification: 'serverDraining', data: { timeoutMs: cfg.drainTimeoutMs } });
      while (rooms.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      log.info({ event: 'drain_finished', roomsLeft: rooms.size, peersLeft: sockets.size }, rooms.size === 0 ? 'drained: all rooms empty' : 'drain timeout: closing remaining rooms');
      await close();
    })();
    return drained;
  };

  return {
    port,
    get draining() { return draining; },
    drain,
    close,
  };
}
