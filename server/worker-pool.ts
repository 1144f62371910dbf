import { execFileSync } from 'node:child_process';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { ServerConfig } from './config.js';

const DRAIN_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * A worker must outlive SIGINT/SIGTERM so that calls keep their media while the server drains. It gets them two
 * ways: mediasoup closes every worker from its own process.once('SIGINT'/'SIGTERM') listeners, and a signal sent
 * to the process group or tree (Ctrl-C, PM2's treekill) reaches the worker process, whose own handlers close it.
 * The first is undone by removing the listeners mediasoup adds. For the second the worker runs under
 * `env --block-signal`, through mediasoup's only exec-prefix hook (named for valgrind): the signals stay pending
 * in the worker. It still ends when the server closes it, when the Node process dies (its channel closes) or on
 * SIGKILL.
 */
const SHIELD: Record<string, string> = {
  MEDIASOUP_USE_VALGRIND: 'true',
  MEDIASOUP_VALGRIND_BIN: '/usr/bin/env',
  MEDIASOUP_VALGRIND_OPTIONS: '--block-signal=INT --block-signal=TERM',
};

function shieldAvailable(): boolean {
  if (process.env['MEDIASOUP_USE_VALGRIND'] === 'true') return false;
  try {
    execFileSync('/usr/bin/env', ['--block-signal=INT', '--block-signal=TERM', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** createWorker, shielded from the drain signals; mediasoup reads the hook's variables once, in the Worker constructor. */
function createShieldedWorker(settings: types.WorkerSettings, shield: boolean): Promise<types.Worker> {
  const before = new Map(DRAIN_SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const saved = Object.fromEntries(Object.keys(SHIELD).map((k) => [k, process.env[k]]));
  if (shield) Object.assign(process.env, SHIELD);
  try {
    return mediasoup.createWorker(settings);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    for (const s of DRAIN_SIGNALS) {
      for (const l of process.listeners(s)) if (!before.get(s)?.has(l)) process.removeListener(s, l);
    }
  }
}

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
    const shield = shieldAvailable();
    if (!shield) log.warn({ event: 'worker_unshielded' }, 'env --block-signal is not available: a signal to the whole process group stops the workers at once instead of after the drain');
    try {
      for (let index = 0; index < cfg.numWorkers; index++) {
        const worker = await createShieldedWorker({ logLevel: 'warn', logTags: ['ice', 'dtls', 'rtp', 'srtp', 'rtcp'] }, shield);
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
    for (const s of this.slots) {
      try {
        s.worker.close();
      } catch {
        // A worker whose channel mediasoup left broken cannot be told to close; killing it is all that is left.
        try { process.kill(s.worker.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
  }
}
