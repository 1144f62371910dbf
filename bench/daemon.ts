/**
 * Health daemon benchmark: one full check cycle on loopback, as the daemon runs it on a host, against real
 * components: TLS ×2 (a TLS front standing in for nginx on 443, and coturn's TLS port; chain, name, and the
 * certificate on disk), disk, TURN over UDP, TCP and TLS (Binding, Allocate, a relayed round trip, a refused
 * private peer), and the server (/healthz, /readyz, /status, a signaling round trip through the TLS front).
 *
 * The daemon runs as its own process from dist/ (bench/daemon-cycles.mjs): startDaemon without timers, then
 * every check N times back to back, so its RSS is the daemon's alone. Server, coturn and the front share the
 * same 2-core machine. Prints figures; asserts nothing.
 *
 * RSS includes the node binary's shared pages (~50 MB once TLS and crypto code ran); the bench also prints the
 * daemon's private memory (USS) and a bare Node.js process's RSS for reference. --node-options runs the daemon with
 * V8 flags (e.g. "--max-semi-space-size=1 --max-old-space-size=64") to compare tunings.
 *
 * --only <check,...> runs some checks alone, --gc collects garbage before each sample: what grows, and in which check.
 *
 *   npm run bench:daemon [-- --cycles 1000] [--node-options="<flags>"] [--only tls-expiry,turn] [--gc]
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CheckResult } from '../lib/checks/result.js';
import type { DaemonConfigInput } from '../lib/daemon-config.js';
import { TestCa, days } from '../test/helpers/certs.js';
import { startCoturn } from '../test/helpers/coturn.js';
import { freePort } from '../test/helpers/process.js';
import { ADMIN_TOKEN, JWT_SECRET, TURN_SECRET, startTestServer } from '../test/helpers/server.js';
import { startTlsFront } from '../test/helpers/tls-front.js';

const { values } = parseArgs({ options: { cycles: { type: 'string', default: '1000' }, 'node-options': { type: 'string', default: '' }, only: { type: 'string' }, gc: { type: 'boolean', default: false } } });
const CYCLES = Number(values.cycles);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const f = (n: number) => n.toFixed(1);

const dir = mkdtempSync(join(tmpdir(), 'rtcops-bench-daemon-'));
const server = await startTestServer({ LOG_LEVEL: 'warn', ANNOUNCED_IP: '127.0.0.1' });
const ca = TestCa.create(join(dir, 'ca'));
const cert = ca.issue('host', ['rtc.bench.test', 'turn.bench.test'], days(-1), days(60));
const coturn = await startCoturn({ dir, secret: TURN_SECRET, cert: cert.fullchainFile, key: cert.keyFile });
const httpsPort = await freePort();
const front = await startTlsFront(httpsPort, cert, server.port);

const config: DaemonConfigInput = {
  host: 'bench', stateFile: join(dir, 'alerts.json'), listen: { host: '127.0.0.1', port: await freePort() }, logLevel: 'info',
  checks: {
    'tls-expiry': {
      caFile: ca.certFile,
      targets: [
        { host: '127.0.0.1', port: httpsPort, servername: 'rtc.bench.test', certFile: cert.fullchainFile },
        { host: '127.0.0.1', port: coturn.tlsPort, servername: 'turn.bench.test', certFile: cert.fullchainFile },
      ],
    },
    disk: {},
    turn: { host: '127.0.0.1', servername: 'turn.bench.test', port: coturn.port, tlsPort: coturn.tlsPort, caFile: ca.certFile, peerIp: '127.0.0.1', peerBindIp: '127.0.0.1', announcedIp: '127.0.0.1', externalIp: '127.0.0.1' },
    server: { url: `http://127.0.0.1:${server.port}`, signalingUrl: `wss://rtc.bench.test:${httpsPort}/signaling`, address: '127.0.0.1', caFile: ca.certFile },
  },
};
if (values.only !== undefined) {
  const keep = values.only.split(',');
  config.checks = Object.fromEntries(Object.entries(config.checks ?? {}).filter(([name]) => keep.includes(name)));
}
const configFile = join(dir, 'daemon.json');
writeFileSync(configFile, JSON.stringify(config));

type Report = { ms: number[]; rss: number[]; heap: number[]; external: number[]; first: CheckResult[]; last: CheckResult[]; ussMiB: number; vmHwmMiB: number };
const report = await new Promise<Report>((resolve, reject) => {
  const child = fork('bench/daemon-cycles.mjs', [configFile, String(CYCLES)], {
    env: { PATH: process.env['PATH'], JWT_SECRET, ADMIN_TOKEN, TURN_SECRET }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...values['node-options'].split(' ').filter((a) => a !== ''), ...(values.gc ? ['--expose-gc'] : [])],
  });
  child.on('message', (m: Report | { progress: number }) => {
    if ('progress' in m) process.stderr.write(`  ${m.progress}/${CYCLES} cycles\r`);
    else resolve(m);
  });
  child.on('exit', (code) => reject(new Error(`the daemon process exited (${String(code)}) without a report`)));
});

front.close();
await coturn.stop();
await server.stop();
rmSync(dir, { recursive: true, force: true });

const bareNodeMiB = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.memoryUsage.rss() / 2 ** 20))'], { encoding: 'utf8' }));
const sorted = [...report.ms].sort((a, b) => a - b);
const notOk = (rs: CheckResult[]) => rs.filter((r) => r.status !== 'ok').map((r) => `${r.check} ${r.target}: ${r.status} ${r.message}`);
const head = report.rss.slice(0, 100);
const tail = report.rss.slice(-100);
console.log(`daemon: ${CYCLES} ${values.only === undefined ? 'full check cycles on loopback (TLS ×2, disk, TURN udp/tcp/tls, server)' : `cycles of ${values.only} alone`}${values.gc ? ', a full GC before each sample' : ''}; ${report.first.length} results per cycle; 2-core machine shared with server and coturn${values['node-options'] === '' ? '' : `; node ${values['node-options']}`}`);
console.log(`  results: first cycle ${report.first.length - notOk(report.first).length}/${report.first.length} ok, last cycle ${report.last.length - notOk(report.last).length}/${report.last.length} ok`);
for (const line of [...new Set([...notOk(report.first), ...notOk(report.last)])]) console.log(`    not ok: ${line}`);
console.log(`  wall time per cycle: p50 ${f(percentile(sorted, 50))}  p95 ${f(percentile(sorted, 95))}  p99 ${f(percentile(sorted, 99))}  max ${f(sorted.at(-1) ?? NaN)} ms   (goal p95 <= 1000 ms)`);
console.log(`  first cycle ${f(report.ms[0] ?? NaN)} ms (connections, TLS contexts and modules warm up)`);
console.log(`  daemon RSS: ${f(report.rss.at(-1) ?? NaN)} MiB after ${CYCLES} cycles, peak ${f(report.vmHwmMiB)} MiB   (goal <= 80 MB)`);
console.log(`  daemon private memory (USS) ${f(report.ussMiB)} MiB; for reference a bare \`node -e\` has RSS ${f(bareNodeMiB)} MiB`);
/** The mean of each tenth of the run: a flat line, or where it climbs. */
const tenths = (xs: number[]) => Array.from({ length: 10 }, (_, i) => mean(xs.slice(Math.floor((i * xs.length) / 10), Math.floor(((i + 1) * xs.length) / 10)))).map(f).join(' ');
console.log(`  trend by tenth of the run (MiB): RSS ${tenths(report.rss)}`);
console.log(`                                   V8 heap used ${tenths(report.heap)}`);
console.log(`                                   outside the heap (Buffers, TLS, native) ${tenths(report.external)}`);
console.log(`  RSS growth: mean ${f(mean(head))} MiB over cycles 1-100, ${f(mean(tail))} MiB over the last 100 (${f(mean(tail) - mean(head))} MiB)`);
process.exit(0);
