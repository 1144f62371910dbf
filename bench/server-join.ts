/**
 * Join benchmark against the real server process (compiled, as PM2 runs it).
 * A join = WebSocket upgrade with a JWT, getRouterRtpCapabilities, createWebRtcTransport.
 *
 * Two phases, each also run against a bare `ws` server (connect + one round trip) in the same run as reference:
 *  - burst: all N clients start at once: throughput (joins/s) and the ratio to bare ws, in --rounds rounds that
 *    alternate rtcops and bare ws (the machine is shared, so one round can be unlucky); the median round counts,
 *    after --warmup uncounted rounds (a server that has run for a while has its hot paths compiled);
 *  - paced: N clients arrive at --rate per second and stay connected (N concurrent at the end): join latency.
 * Clients run on the same 2-core machine as the server, so both figures include the clients' own CPU; the CPU
 * each process used per join is printed to show where the time goes.
 *
 *   npm run build && node --import tsx bench/server-join.ts [--clients 500] [--rate 250] [--per-room 10] [--workers 2] [--rounds 3] [--warmup 1] [--mode port-range|webrtc-server]
 */
import { fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '500' },
    rate: { type: 'string', default: '250' },
    'per-room': { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    mode: { type: 'string', default: 'port-range' },
  },
});
const N = Number(values.clients);
const RATE = Number(values.rate);
const PER_ROOM = Number(values['per-room']);
const secret = randomBytes(32).toString('hex');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const CLOCK_TICKS_PER_MS = 100 / 1000;
/** CPU milliseconds a process has used (utime + stime from /proc/<pid>/stat). */
const cpuMsOf = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_MS;
};
const childrenOf = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
const clientCpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One client: open the socket, then each request in turn. Resolves with the time taken and the open socket. */
function client(url: string, requests: string[]): Promise<{ ms: number; ws: WebSocket }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let i = 0;
    const next = () => {
      const r = requests[i++];
      if (r === undefined) resolve({ ms: performance.now() - t0, ws });
      else ws.send(r);
    };
    ws.on('open', next);
    ws.on('message', (m) => {
      const msg = JSON.parse(m.toString()) as { ok?: boolean; error?: unknown; notification?: string };
      if (msg.notification !== undefined) return;
      if (msg.ok === false) reject(new Error(JSON.stringify(msg.error)));
      else next();
    });
    ws.on('error', reject);
    ws.on('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

interface Cpu { server: number; workers: number; clients: number }

/** CPU milliseconds used so far by a server process, its children (mediasoup workers) and this process (the clients). */
function cpuNow(serverPid: number, workers: number[]): Cpu {
  return { server: cpuMsOf(serverPid), workers: workers.reduce((n, p) => n + cpuMsOf(p), 0), clients: clientCpuMs() };
}

interface Phase { latencies: number[]; wallMs: number; failures: number; rate: number; cpu: Cpu }

/** Starts every client (all at once, or `ratePerSec` apart), waits for all (CPU counted until then), then closes them. */
async function phase(label: string, serverPid: number, urls: string[], requests: string[], ratePerSec?: number): Promise<Phase> {
  const workers = childrenOf(serverPid);
  const cpu0 = cpuNow(serverPid, workers);
  const t0 = performance.now();
  const started = urls.map(async (u, i) => {
    if (ratePerSec !== undefined) await sleep(Math.max(0, t0 + (i * 1000) / ratePerSec - performance.now()));
    return client(u, requests);
  });
  const results = await Promise.allSettled(started);
  const wallMs = performance.now() - t0;
  const cpu1 = cpuNow(serverPid, workers);
  const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) console.error(`${label}: ${failures.length} failed, first: ${failures[0]?.reason}`);
  await Promise.all(ok.map(({ ws }) => new Promise((r) => { ws.once('close', r); ws.close(); })));
  return {
    latencies: ok.map((r) => r.ms).sort((a, b) => a - b), wallMs, failures: failures.length, rate: ok.length / (wallMs / 1000),
    cpu: { server: cpu1.server - cpu0.server, workers: cpu1.workers - cpu0.workers, clients: cpu1.clients - cpu0.clients },
  };
}

const f = (n: number) => n.toFixed(1);
const lat = (p: Phase) => `p50 ${f(percentile(p.latencies, 50))}  p95 ${f(percentile(p.latencies, 95))}  p99 ${f(percentile(p.latencies, 99))} ms`;

async function main(): Promise<void> {
  const port = await freePort();
  const server = spawn(process.execPath, ['dist/server/main.js'], {
    env: {
      ...process.env, PORT: String(port), HOST: '127.0.0.1', LISTEN_IP: '127.0.0.1', ANNOUNCED_IP: '127.0.0.1', NUM_WORKERS: values.workers,
      JWT_SECRET: secret, ADMIN_TOKEN: randomBytes(32).toString('hex'), MAX_CONNECTIONS_PER_IP: String(N * 2), MAX_PEERS_PER_ROOM: String(PER_ROOM * 2),
      LOG_LEVEL: 'warn', DRAIN_TIMEOUT_MS: '0', RTC_MIN_PORT: '40000', RTC_MAX_PORT: '49999',
      ...(values.mode === 'webrtc-server' ? { WEBRTC_SERVER_PORT: '44400' } : {}),
      // BENCH_NODE_OPTIONS=--cpu-prof --cpu-prof-dir=DIR profiles the server.
      ...(process.env['BENCH_NODE_OPTIONS'] ? { NODE_OPTIONS: process.env['BENCH_NODE_OPTIONS'] } : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const bare = fork('bench/bare-ws-server.mjs', [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const barePort = await new Promise<number>((resolve) => bare.once('message', (m) => resolve((m as { port: number }).port)));
    for (let i = 0; i < 100; i++) {
      if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) break;
      await sleep(100);
    }
    const urls = () => Array.from({ length: N }, (_, i) => `ws://127.0.0.1:${port}/signaling?token=${jwt.sign({ sub: `peer-${i}`, room: `room-${Math.floor(i / PER_ROOM)}` }, secret, { expiresIn: 600 })}`);
    const bareUrls = Array.from({ length: N }, () => `ws://127.0.0.1:${barePort}/`);
    const join = [JSON.stringify({ id: 1, method: 'getRouterRtpCapabilities' }), JSON.stringify({ id: 2, method: 'createWebRtcTransport', data: { direction: 'recv' } })];
    const echo = [JSON.stringify({ id: 1, method: 'ping' })];

    const rssIdle = rssOf(server.pid as number);
    const [serverPid, barePid] = [server.pid as number, bare.pid as number];
    for (let r = 0; r < Number(values.warmup); r++) {
      await phase('rtcops warm-up', serverPid, urls(), join);
      await phase('bare ws warm-up', barePid, bareUrls, echo);
    }
    const rounds: { rtcops: Phase; bare: Phase; ratio: number }[] = [];
    for (let r = 0; r < Number(values.rounds); r++) {
      const rtcops = await phase('rtcops burst', serverPid, urls(), join);
      const bareWs = await phase('bare ws burst', barePid, bareUrls, echo);
      rounds.push({ rtcops, bare: bareWs, ratio: rtcops.rate / bareWs.rate });
    }
    const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(rounds.length / 2)] as (typeof rounds)[number];
    const { rtcops: burst, bare: bareBurst } = median;
    const paced = await phase('rtcops paced', serverPid, urls(), join, RATE);
    const rssPeak = rssOf(serverPid);
    const barePaced = await phase('bare ws paced', barePid, bareUrls, echo, RATE);

    console.log(`server-join: ${N} clients, ${PER_ROOM} per room, ${values.workers} workers, ${values.mode}; clients share the 2-core machine`);
    console.log(`  burst (all ${N} at once), ${rounds.length} rounds after ${values.warmup} warm-up: ${rounds.map((r) => `${f(r.rtcops.rate)} vs ${f(r.bare.rate)}/s = ${f(r.ratio * 100)}%`).join(';  ')}`);
    console.log(`   median round:`);
    console.log(`    rtcops  ${burst.latencies.length}/${N} joined   ${f(burst.rate)} joins/s      ${lat(burst)} (includes queueing behind the burst)`);
    console.log(`    bare ws ${bareBurst.latencies.length}/${N} connected ${f(bareBurst.rate)} connections/s ${lat(bareBurst)}`);
    console.log(`    ratio rtcops/bare-ws rate: ${f(median.ratio * 100)}%   (target >= 70%)`);
    const perJoin = (ms: number) => f((ms * 1000) / N);
    console.log(`    CPU per join until all joined (µs): rtcops server ${perJoin(burst.cpu.server)}, its workers ${perJoin(burst.cpu.workers)}, clients ${perJoin(burst.cpu.clients)}; bare ws server ${perJoin(bareBurst.cpu.server)}, clients ${perJoin(bareBurst.cpu.clients)}`);
    console.log(`  paced (${RATE}/s arrivals, all ${N} stay connected)`);
    console.log(`    rtcops  join latency    ${lat(paced)}   (target p95 <= 20 ms)`);
    console.log(`    bare ws connect+echo    ${lat(barePaced)}`);
    console.log(`  server RSS: ${f(rssIdle / 2 ** 20)} MiB idle, ${f(rssPeak / 2 ** 20)} MiB with ${N} peers connected (Node process; mediasoup workers are separate)`);
    if ([...rounds.flatMap((r) => [r.rtcops, r.bare]), paced, barePaced].some((p) => p.failures > 0)) process.exitCode = 1;
  } finally {
    server.kill('SIGTERM');
    bare.kill('SIGKILL');
    await new Promise((r) => server.once('exit', r));
  }
}

await main();
