import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { RoomRegistry } from './room-registry.js';
import type { WorkerPool } from './worker-pool.js';

export interface WorkerStats {
  index: number;
  pid: number;
  alive: boolean;
  rooms: number;
  peers: number;
  transports: number;
  producers: number;
  consumers: number;
  /** CPU seconds the worker process has used (user + system); null if it did not answer. */
  cpuSeconds: number | null;
  maxRssBytes: number | null;
}

export interface ServerStats {
  timestamp: string;
  uptimeSeconds: number;
  draining: boolean;
  rooms: number;
  peers: number;
  workers: WorkerStats[];
  roomList: { room: string; worker: number; peers: number; producers: number; consumers: number; createdAt: string }[];
  process: { rssBytes: number; heapUsedBytes: number; heapTotalBytes: number; eventLoopLagMs: { mean: number; p99: number; max: number } };
}

const RESOURCE_USAGE_TIMEOUT_MS = 1000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.catch(() => null),
    new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/** Figures shared by /status and /metrics. Counts are read from the rooms; no SDP, tokens or secrets. */
export class StatsCollector {
  private readonly startedAt = Date.now();
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  // Event-loop lag is reported over a rolling window, so /status and /metrics readers do not reset each other.
  private readonly lagWindow = setInterval(() => this.loopDelay.reset(), 60_000).unref();

  constructor(private readonly pool: WorkerPool, private readonly rooms: RoomRegistry, private readonly isDraining: () => boolean) {
    this.loopDelay.enable();
  }

  async collect(): Promise<ServerStats> {
    const perWorker = this.pool.slots.map((s) => ({ index: s.index, peers: 0, transports: 0, producers: 0, consumers: 0 }));
    const roomList: ServerStats['roomList'] = [];
    let peers = 0;
    for (const room of this.rooms.all()) {
      const c = room.counts();
      const w = perWorker[room.slot.index];
      if (w !== undefined) {
        w.peers += c.peers;
        w.transports += c.transports;
        w.producers += c.producers;
        w.consumers += c.consumers;
      }
      peers += c.peers;
      roomList.push({ room: room.id, worker: room.slot.index, peers: c.peers, producers: c.producers, consumers: c.consumers, createdAt: new Date(room.createdAt).toISOString() });
    }
    const workers = await Promise.all(this.pool.slots.map(async (s): Promise<WorkerStats> => {
      const alive = !s.worker.closed && !s.worker.died;
      const usage = alive ? await withTimeout(s.worker.getResourceUsage(), RESOURCE_USAGE_TIMEOUT_MS) : null;
      const w = perWorker[s.index] ?? { peers: 0, transports: 0, producers: 0, consumers: 0 };
      return {
        index: s.index,
        pid: s.worker.pid,
        alive,
        rooms: s.rooms,
        peers: w.peers,
        transports: w.transports,
        producers: w.producers,
        consumers: w.consumers,
        cpuSeconds: usage === null ? null : (usage.ru_utime + usage.ru_stime) / 1000,
        maxRssBytes: usage === null ? null : usage.ru_maxrss * 1024,
      };
    }));
    const mem = process.memoryUsage();
    const ms = (ns: number) => Math.round((Number.isFinite(ns) ? ns : 0) / 1e4) / 100;
    const lag = { mean: ms(this.loopDelay.mean), p99: ms(this.loopDelay.percentile(99)), max: ms(this.loopDelay.max) };
    return {
      timestamp: new Date().toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      draining: this.isDraining(),
      rooms: this.rooms.size,
      peers,
      workers,
      roomList,
      process: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, heapTotalBytes: mem.heapTotal, eventLoopLagMs: lag },
    };
  }

  stop(): void {
    clearInterval(this.lagWindow);
    this.loopDelay.disable();
  }
}
