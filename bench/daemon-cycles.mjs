// The measured process for bench/daemon.ts: the compiled daemon (no tsx in its memory), its composition root
// (checks, metrics, alert state machine, logging) without timers, running every check N times back to back.
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { loadConfigFile, secretsFromEnv } from '../dist/daemon/config.js';
import { startDaemon } from '../dist/daemon/daemon.js';

const [configFile, cycles] = [process.argv[2], Number(process.argv[3])];
const cfg = loadConfigFile(configFile);
const log = pino({ level: cfg.logLevel }, pino.destination({ dest: '/dev/null', sync: true }));
const daemon = await startDaemon(cfg, secretsFromEnv(cfg, process.env, configFile), log, { schedule: false });
const rssMiB = () => process.memoryUsage.rss() / 2 ** 20;
/** Unique set size: the pages only this process holds (RSS minus the shared node binary and libraries). */
const ussMiB = () => {
  const t = readFileSync('/proc/self/smaps_rollup', 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(t)?.[1] ?? 0);
  return (kb('Private_Clean') + kb('Private_Dirty')) / 1024;
};
const ms = [];
const rss = [];
/** Where the memory is, per cycle: V8's heap in use, and memory outside it (Buffers, TLS and native objects). */
const heap = [];
const external = [];
let first;
for (let i = 0; i < cycles; i++) {
  const t0 = performance.now();
  const results = (await daemon.scheduler.runAll()).flat();
  ms.push(performance.now() - t0);
  globalThis.gc?.();
  rss.push(rssMiB());
  const m = process.memoryUsage();
  heap.push(m.heapUsed / 2 ** 20);
  external.push(m.external / 2 ** 20);
  first ??= results;
  if (i % 100 === 99) process.send({ progress: i + 1 });
}
const last = [...daemon.scheduler.latest.values()];
const ussEnd = ussMiB();
await daemon.stop();
process.send({ ms, rss, heap, external, first, last, ussMiB: ussEnd, vmHwmMiB: Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024 });
process.exit(0);
