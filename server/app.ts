import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Admission } from './admission.js';
import type { ServerConfig } from './config.js';
import { createRequestHandler } from './http-routes.js';
import { Metrics } from './metrics.js';
import { CloseCode } from './protocol.js';
import { RoomRegistry } from './room-registry.js';
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

/** The composition root: workers, then rooms, then HTTP and WebSocket admission, in that order. */
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
  const admission = new Admission({ cfg, log, metrics, rooms, isDraining: () => draining });
  http.on('upgrade', admission.onUpgrade);
  http.on('clientError', admission.onClientError);

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(cfg.port, cfg.host, () => { http.off('error', reject); resolve(); });
  });
  const port = (http.address() as AddressInfo).port;
  log.info({ event: 'listening', host: cfg.host, port, workers: cfg.numWorkers, mode: cfg.webRtcServerPort === undefined ? 'port-range' : 'webrtc-server' }, 'rtcops server listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      admission.closeAll(CloseCode.goingAway, 'server shutting down');
      rooms.closeAll();
      pool.close();
      stats.stop();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    })();
    return closing;
  };

  // Calls in progress keep their media while draining: the workers outlive the signal (worker-pool.ts) until close().
  let drained: Promise<void> | undefined;
  const drain = (): Promise<void> => {
    drained ??= (async () => {
      draining = true;
      const deadline = Date.now() + cfg.drainTimeoutMs;
      log.info({ event: 'drain_started', rooms: rooms.size, peers: admission.sockets.size, timeoutMs: cfg.drainTimeoutMs }, 'draining: no new joins');
      admission.notifyAll('serverDraining', { timeoutMs: cfg.drainTimeoutMs });
      while (rooms.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      log.info({ event: 'drain_finished', roomsLeft: rooms.size, peersLeft: admission.sockets.size }, rooms.size === 0 ? 'drained: all rooms empty' : 'drain timeout: closing remaining rooms');
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
