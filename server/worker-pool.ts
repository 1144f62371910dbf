import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { ServerConfig } from './config.js';

/** One mediasoup Worker (one per core), its optional WebRtcServer, and how many rooms it carries. */
export interface WorkerSlot {
  index: number;
  worker: types.Worker;
  webRtcServer: types.WebRtcServer | undefined;
  rooms: number;
}

export class WorkerPool {
  private constructor(readonly slots: WorkerSlot[]) {}

  /** Starts cfg.numWorkers workers; onDied is called (once per worker) if one dies unexpectedly. */
  static async start(cfg: ServerConfig, log: Logger, onDied: (slot: WorkerSlot, err: Error) => void): Promise<WorkerPool> {
    const slots: WorkerSlot[] = [];
    try {
      for (let index = 0; index < cfg.numWorkers; index++) {
        const worker = await mediasoup.createWorker({ logLevel: 'warn', logTags: ['ice', 'dtls', 'rtp', 'srtp', 'rtcp'] });
        const slot: WorkerSlot = { index, worker, webRtcServer: undefined, rooms: 0 };
        slots.push(slot);
        worker.on('died', (err) => onDied(slot, err));
        if (cfg.webRtcServerPort !== undefined) {
          const port = cfg.webRtcServerPort + index;
          const base = { ip: cfg.listenIp, port, ...(cfg.announcedIp !== undefined ? { announcedAddress: cfg.announcedIp } : {}) };
          slot.webRtcServer = await worker.createWebRtcServer({
            listenInfos: [{ protocol: 'udp', ...base }, { protocol: 'tcp', ...base }],
          });
        }
        log.info({ event: 'worker_started', worker: index, workerPid: worker.pid, webRtcServerPort: cfg.webRtcServerPort === undefined ? undefined : cfg.webRtcServerPort + index }, 'mediasoup worker started');
      }
    } catch (err) {
      for (const s of slots) s.worker.close();
      throw err;
    }
    return new WorkerPool(slots);
  }

  /** The worker with the fewest rooms; ties go to the lowest index. */
  leastLoaded(): WorkerSlot {
    let best = this.slots[0];
    if (best === undefined) throw new Error('worker pool is empty');
    for (const s of this.slots) if (s.rooms < best.rooms) best = s;
    return best;
  }

  allAlive(): boolean {
    return this.slots.every((s) => !s.worker.closed && !s.worker.died);
  }

  close(): void {
    for (const s of this.slots) s.worker.close();
  }
}
