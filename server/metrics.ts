import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServerStats, StatsCollector, WorkerStats } from './stats.js';

const SNAPSHOT_MAX_AGE_MS = 250;

/** Prometheus metrics: the /status figures plus join and request counters. One registry per server instance. */
export class Metrics {
  readonly registry = new Registry();
  readonly joinAttempts = new Counter({ name: 'rtcops_join_attempts_total', help: 'WebSocket upgrade attempts on /signaling', registers: [this.registry] });
  readonly joinSuccesses = new Counter({ name: 'rtcops_join_successes_total', help: 'Peers that were admitted to a room', registers: [this.registry] });
  readonly joinFailures = new Counter({
    name: 'rtcops_join_failures_total',
    help: 'Upgrade attempts refused, by reason (auth reasons, ip_limit, draining, room_full, error)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'rtcops_signaling_request_duration_seconds',
    help: 'Time to answer a signaling request, by method and outcome',
    labelNames: ['method', 'outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly socketsClosed = new Counter({
    name: 'rtcops_peer_disconnects_total',
    help: 'Signaling sockets closed, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });

  readonly connectionTests = new Counter({
    name: 'rtcops_connection_test_paths_total',
    help: 'Paths tried by /connection-test pages, by path (udp, tcp, turn-udp, turn-tcp, turn-tls) and outcome (pass, fail)',
    labelNames: ['path', 'outcome'],
    registers: [this.registry],
  });

  constructor(stats: StatsCollector) {
    collectDefaultMetrics({ register: this.registry });
    // prom-client collects all metrics concurrently: they share one snapshot per scrape.
    let cached: { at: number; stats: Promise<ServerStats> } | undefined;
    const snapshot = (): Promise<ServerStats> => {
      if (cached === undefined || Date.now() - cached.at > SNAPSHOT_MAX_AGE_MS) cached = { at: Date.now(), stats: stats.collect() };
      return cached.stats;
    };
    const gauge = (name: string, help: string, value: (s: ServerStats) => number) => new Gauge({
      name, help, registers: [this.registry],
      async collect() { this.set(value(await snapshot())); },
    });
    const perWorker = (name: string, help: string, value: (w: WorkerStats) => number | null) => new Gauge({
      name, help, labelNames: ['worker'], registers: [this.registry],
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const w of s.workers) {
          const v = value(w);
          if (v !== null) this.set({ worker: String(w.index) }, v);
        }
      },
    });
    gauge('rtcops_rooms', 'Open rooms', (s) => s.rooms);
    gauge('rtcops_peers', 'Connected peers', (s) => s.peers);
    gauge('rtcops_draining', '1 while the server drains before shutdown', (s) => (s.draining ? 1 : 0));
    gauge('rtcops_event_loop_lag_p99_seconds', 'Event-loop delay p99 over the last minute', (s) => s.process.eventLoopLagMs.p99 / 1000);
    perWorker('rtcops_worker_alive', '1 if the mediasoup worker is running', (w) => (w.alive ? 1 : 0));
    perWorker('rtcops_worker_rooms', 'Rooms (routers) on the worker', (w) => w.rooms);
    perWorker('rtcops_worker_peers', 'Peers on the worker', (w) => w.peers);
    perWorker('rtcops_worker_transports', 'WebRTC transports on the worker', (w) => w.transports);
    perWorker('rtcops_worker_producers', 'Producers on the worker', (w) => w.producers);
    perWorker('rtcops_worker_consumers', 'Consumers on the worker', (w) => w.consumers);
    perWorker('rtcops_worker_cpu_seconds', 'CPU seconds used by the worker process (user+system)', (w) => w.cpuSeconds);
    perWorker('rtcops_worker_max_rss_bytes', 'Peak resident memory of the worker process', (w) => w.maxRssBytes);
  }
}
