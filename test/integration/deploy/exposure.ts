// The exposure suite: a provisioned and deployed host seen from a non-admin address (a namespace on the sandbox
// bridge), compared with the firewall plan. Every reachable thing the plan does not list for that address is a
// finding that names the thing and how it was reached; none is the pass.
//
// What each probe proves:
// - TCP: a connect to every port 1-65535 (500 ms each, 4096 at a time: within the usual 20000 open files). An accepted connection is proof; the plan's
//   own public ports must be among them, or the scan itself is not trusted (a finding).
// - UDP, for every port the host has open (ss -Hulnp): a STUN Binding request. A reply proves the port reachable; an
//   ICMP port unreachable proves the firewall let the datagram in. Silence proves little (dropped, or a listener that
//   ignores the payload): UDP is best-effort here, the TURN relay checks below are where UDP is proven.
// - TURN, with the credentials GET /turn-credentials hands any signed-in caller: a UDP allocation asks a permission
//   for loopback, private, link-local/metadata, CGNAT, multicast, IPv4-mapped and other IPv6 forms (each must be
//   refused), and sends to the host's own address: to every UDP port it listens on and to listeners this suite starts
//   on the host. Only the media ports may receive (a listener on a media port must, or the check proves nothing), and the
//   health daemon's TURN echo port (daemon.turnEchoPort, bound while its check runs); an answer through the relay, or a
//   datagram at any other listener, is a finding. TCP allocations (RFC 6062) over
//   TCP, TLS and TLS on 443 must be refused with 442.
// - HTTPS: the path-trick corpus for every location nginx keeps to adminCidrs (read from the host's own nginx -T),
//   plain and as WebSocket upgrades: nothing but 400/403/404, never a metrics or status body.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import jwt from 'jsonwebtoken';
import { daemonConfigSchema } from '../../../lib/daemon-config.js';
import { mediaPorts, planFirewall } from '../../../lib/inventory/firewall-plan.js';
import type { ResolvedHost } from '../../../lib/inventory/index.js';
import { daemonConfig } from '../../../lib/render/index.js';
import { cidrsOverlap } from '../../../lib/sandbox/layout.js';
import { pathTrickCorpus } from '../../helpers/raw-http.js';
import type { OutsideJob, OutsideResult } from './exposure-outside.js';

const REPO = resolve(import.meta.dirname, '../../..');
const run = promisify(execFile);

export interface ExposureContext {
  host: ResolvedHost;
  /** The host's address (the announced IP). */
  address: string;
  /** The sandbox bridge's own address (the admin's). */
  bridgeAddress: string;
  outsider: { namespace: string; address: string };
  /** A root shell on the host. */
  sh: (script: string) => Promise<string>;
  ca: string;
  jwtSecret: string;
}

export interface ExposureReport {
  /** Everything but the UDP relay to the host's own address. */
  findings: string[];
  /** A TURN UDP relay to the host's own address reaching a port that is not a media port. */
  ownHostRelay: string[];
  /** What was probed, for the failure message. */
  summary: string;
}

interface Listening { proto: 'tcp' | 'udp'; address: string; port: number; process: string }

/** `ss -Hlnp` lines: the local address, its port and the process. */
export function parseSs(proto: 'tcp' | 'udp', text: string): Listening[] {
  return text.split('\n').flatMap((line) => {
    const cols = line.trim().split(/\s+/);
    const local = cols[3];
    const m = local === undefined ? null : /^(.*):(\d+)$/.exec(local);
    if (m === null) return [];
    return [{ proto, address: m[1]!, port: Number(m[2]), process: /users:\(\("([^"]+)"/.exec(line)?.[1] ?? '?' }];
  });
}

/** The locations nginx limits to adminCidrs (`allow` … `deny all`), from `nginx -T`. */
export function adminOnlyLocations(nginxT: string): string[] {
  const paths = [...nginxT.matchAll(/location\s+=\s+(\S+)\s*\{([^}]*)\}/g)].filter((m) => /\ballow\s+\S+;/.test(m[2]!) && /\bdeny\s+all;/.test(m[2]!)).map((m) => m[1]!);
  return [...new Set(paths)].sort();
}

type Range = { min: number; max: number };
const inRange = (port: number, r: number | Range) => (typeof r === 'number' ? port === r : port >= r.min && port <= r.max);
const listed = (ranges: (number | Range)[], port: number) => ranges.some((r) => inRange(port, r));

/** The ports the plan opens to `address` (rules from any, or from a CIDR that holds it). */
export function publicPorts(host: ResolvedHost, address: string): { tcp: (number | Range)[]; udp: (number | Range)[] } {
  const rules = planFirewall(host).rules.filter((r) => r.from === 'any' || cidrsOverlap(r.from, `${address}/32`));
  return { tcp: rules.filter((r) => r.proto === 'tcp').map((r) => r.port), udp: rules.filter((r) => r.proto === 'udp').map((r) => r.port) };
}

/** Peers a TURN client must never get a permission for (the host's own address is judged by what arrives). */
export function refusedPeers(host: string, bridge: string, outsider: string): string[] {
  return [
    '127.0.0.1', '127.1.2.3', '0.0.0.0', '10.0.0.1', '10.255.255.254', bridge, outsider, '172.16.0.1', '172.31.255.254', '192.168.0.1',
    '192.168.255.254', '169.254.169.254', '169.254.0.1', '100.64.0.1', '100.127.255.254', '224.0.0.1', '239.255.255.250', '255.255.255.255',
    '::1', '::', '::ffff:127.0.0.1', `::ffff:${host}`, '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::127.0.0.1', '64:ff9b::127.0.0.1',
    'fe80::1', 'fc00::1', 'fd00:ec2::254', 'ff02::1',
  ];
}

const LISTENER = `
import socket, select, sys
socks = {}
for p in map(int, sys.argv[1:]):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(('0.0.0.0', p))
    except OSError as e:
        print('busy', p, flush=True); continue
    socks[s] = p
    print('bound', p, flush=True)
while True:
    for s in select.select(list(socks), [], [])[0]:
        data, src = s.recvfrom(65535)
        print('got', socks[s], '%s:%d' % src, len(data), flush=True)
`;

/**
 * UDP listeners on the host for the relay checks: ports just outside the media range and in the relay range (must
 * get nothing), and the top media ports (one must get the datagram: the positive control).
 */
async function startListener(sh: ExposureContext['sh'], ports: number[]): Promise<{ bound: () => Promise<number[]>; received: () => Promise<{ port: number; from: string }[]>; stop: () => Promise<void> }> {
  const dir = '/run/rtcops-exposure';
  await sh(`mkdir -p ${dir} && cat > ${dir}/listener.py <<'PY'\n${LISTENER}\nPY\nsetsid nohup timeout 600 python3 -u ${dir}/listener.py ${ports.join(' ')} </dev/null >${dir}/listener.log 2>&1 & echo $! > ${dir}/listener.pid`);
  const log = () => sh(`cat ${dir}/listener.log`);
  for (let i = 0; i < 50 && (await log()).split('\n').filter((l) => /^(bound|busy) /.test(l)).length < ports.length; i++) await new Promise((r) => setTimeout(r, 100));
  return {
    bound: async () => (await log()).split('\n').flatMap((l) => (l.startsWith('bound ') ? [Number(l.split(' ')[1])] : [])),
    received: async () => (await log()).split('\n').flatMap((l) => { const [w, port, from] = l.split(' '); return w === 'got' ? [{ port: Number(port), from: from ?? '' }] : []; }),
    stop: async () => { await sh(`kill "$(cat ${dir}/listener.pid)" 2>/dev/null || true; rm -rf ${dir}`); },
  };
}

async function outside(ctx: ExposureContext, job: OutsideJob): Promise<OutsideResult> {
  const dir = mkdtempSync(join(tmpdir(), 'rtcops-exposure-'));
  try {
    const file = join(dir, 'job.json');
    writeFileSync(file, JSON.stringify(job));
    const agent = join(import.meta.dirname, 'exposure-outside.ts');
    const { stdout } = await run('ip', ['netns', 'exec', ctx.outsider.namespace, process.execPath, '--import', 'tsx', agent, file], { cwd: REPO, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 });
    return JSON.parse(stdout) as OutsideResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const METRICS_BODY = /^# (HELP|TYPE) |rtcops_|"rooms"|"workers"/m;

export async function probeExposure(ctx: ExposureContext): Promise<ExposureReport> {
  const { host, address } = ctx;
  const from = `from ${ctx.outsider.address} (not in adminCidrs)`;
  const plan = publicPorts(host, ctx.outsider.address);
  const media = mediaPorts(host);
  const tcpListening = parseSs('tcp', await ctx.sh('ss -Htlnp'));
  const udpListening = parseSs('udp', await ctx.sh('ss -Hulnp'));
  const admin = adminOnlyLocations(await ctx.sh('nginx -T 2>/dev/null'));
  const findings: string[] = [];
  const ownHostRelay: string[] = [];
  if (!admin.includes('/status') || !admin.includes('/metrics')) findings.push(`nginx -T on the host shows admin-only locations ${JSON.stringify(admin)}, without /status and /metrics: the corpus below would miss them`);

  const inUse = new Set(udpListening.map((l) => l.port));
  const quiet = [media.min - 1, media.max + 1, host.turn.relayPorts.max, 9].filter((p) => !inUse.has(p));
  const mediaCandidates = [media.max, media.max - 1, media.max - 2].filter((p) => !inUse.has(p));
  const listener = await startListener(ctx.sh, [...quiet, ...mediaCandidates]);
  let result: OutsideResult;
  let bound: number[];
  let received: { port: number; from: string }[];
  try {
    bound = await listener.bound();
    const ownUdp = [...new Set(udpListening.map((l) => l.port))].filter((p) => !inRange(p, media));
    const token = jwt.sign({ sub: 'exposure-suite', room: 'exposure' }, ctx.jwtSecret, { algorithm: 'HS256', expiresIn: 300 });
    const corpus = [...admin, ...pathTrickCorpus(admin)];
    result = await outside(ctx, {
      address,
      domain: host.app.domains[0]!,
      turnDomain: host.turn.domain,
      ca: ctx.ca,
      jwt: token,
      tcpScan: { concurrency: 4096, timeoutMs: 500 },
      udpPorts: [...new Set(udpListening.map((l) => l.port))],
      httpTargets: corpus,
      turn: {
        port: host.turn.port,
        tlsPort: host.turn.tlsPort,
        refusedPeers: refusedPeers(address, ctx.bridgeAddress, ctx.outsider.address),
        relayTargets: [{ ip: address, ports: [...ownUdp, ...bound] }],
      },
    });
    await new Promise((r) => setTimeout(r, 300));
    received = await listener.received();
  } finally {
    await listener.stop();
  }

  // TCP: every accepted connection must be a port the plan opens to this address.
  const who = (proto: 'tcp' | 'udp', port: number) => [...tcpListening, ...udpListening].filter((l) => l.proto === proto && l.port === port).map((l) => `${l.process} on ${l.address}`).join(', ') || 'no listener seen by ss';
  for (const port of result.tcpOpen) if (!listed(plan.tcp, port)) findings.push(`tcp ${address}:${port} accepted a connection ${from}: ${who('tcp', port)}; the firewall plan does not open it to this address`);
  for (const port of [80, 443, host.turn.port, host.turn.tlsPort]) if (!result.tcpOpen.includes(port)) findings.push(`the TCP scan did not see ${port} open, which the plan opens to everyone: the scan missed a port and cannot be trusted`);
  const daemonPort = daemonConfigSchema.parse(daemonConfig(host)).listen.port;
  for (const [port, what] of [[host.nodeExporter.port, 'node_exporter'], [daemonPort, 'the health daemon']] as const) {
    if (result.tcpOpen.includes(port)) findings.push(`${what} (${address}:${port}/tcp) accepted a connection ${from}`);
  }

  // UDP (best-effort): a reply or an ICMP unreachable from a port the plan does not open.
  for (const [p, answer] of Object.entries(result.udp)) {
    const port = Number(p);
    if (answer !== 'silent' && !listed(plan.udp, port)) findings.push(`udp ${address}:${port} ${answer === 'reply' ? 'answered a STUN Binding request' : 'sent ICMP port unreachable (the firewall let the datagram in)'} ${from}: ${who('udp', port)}; the plan does not open it`);
  }

  // HTTPS: nothing but 400/403/404 for the corpus, never a metrics or status body.
  for (const r of result.http) {
    const how = `GET ${JSON.stringify(r.target)}${r.upgrade ? ' (WebSocket upgrade)' : ''} to https://${host.app.domains[0]}/ ${from}`;
    if (r.error !== undefined) findings.push(`${how}: no HTTP reply (${r.error})`);
    else if (![400, 403, 404].includes(r.status!)) findings.push(`${how} answered ${r.status}: ${JSON.stringify(r.body?.slice(0, 120))}`);
    else if (METRICS_BODY.test(r.body ?? '')) findings.push(`${how} answered ${r.status} with the admin body: ${JSON.stringify(r.body?.slice(0, 120))}`);
  }

  // TURN.
  const t = result.turn;
  if (t.credentials.status !== 200) findings.push(`GET /turn-credentials ${from} with a valid JWT answered ${t.credentials.status} ${t.credentials.error ?? ''}: the TURN checks could not run`);
  else if (t.udpAllocation === undefined || t.udpAllocation.startsWith('refused')) findings.push(`the TURN UDP allocation on ${address}:${host.turn.port} failed (${t.udpAllocation}): the relay checks could not run`);
  for (const peer of refusedPeers(address, ctx.bridgeAddress, ctx.outsider.address)) {
    if (t.credentials.status === 200 && t.permissions[peer] === 'granted') findings.push(`TURN CreatePermission for peer ${peer} was granted on a UDP allocation ${from} (credentials from /turn-credentials): coturn would relay there`);
  }
  for (const [control, answer] of Object.entries(t.tcpAllocations)) {
    if (!answer.startsWith('442')) findings.push(`TURN TCP allocation (RFC 6062) over ${control} ${from}: ${answer}, not 442`);
  }
  const mediaControl = bound.find((p) => inRange(p, media));
  if (t.permissions[address] === 'granted') {
    if (mediaControl === undefined) findings.push(`no media port was free for the relay's positive control (${mediaCandidates.join(', ')} busy)`);
    else if (!received.some((r) => r.port === mediaControl)) findings.push(`a datagram relayed by TURN to the media port ${address}:${mediaControl} did not arrive at the listener there: the relay checks prove nothing`);
    const relayMayReach = (port: number) => inRange(port, media) || port === host.daemon.turnEchoPort;
    for (const r of received) if (!relayMayReach(r.port)) ownHostRelay.push(`a TURN UDP relay (allocation ${t.udpAllocation}) delivered a datagram to ${address}:${r.port} (a test listener, not a media port) from ${r.from}: the relay reaches the host's own non-media ports`);
    for (const peer of t.relayReplies) {
      const port = Number(peer.split(':').at(-1));
      if (!relayMayReach(port)) ownHostRelay.push(`through a TURN UDP relay (allocation ${t.udpAllocation}) ${from}, ${peer} answered a STUN Binding request: ${who('udp', port)}, not a media port`);
    }
  } else if (t.udpAllocation !== undefined && !t.udpAllocation.startsWith('refused')) {
    findings.push(`TURN CreatePermission for the host's own address ${address} was refused (${t.permissions[address]}): media through TURN cannot reach the SFU`);
  }

  const summary = [
    `outsider ${ctx.outsider.address} → ${address}`,
    `tcp open: ${result.tcpOpen.join(' ')}`,
    `udp: ${Object.entries(result.udp).map(([p, a]) => `${p}=${a}`).join(' ')}`,
    `http: ${result.http.length} requests (${admin.join(', ')} and their tricks, plain and upgrade)`,
    `turn: allocation ${t.udpAllocation}; permissions ${Object.entries(t.permissions).map(([p, a]) => `${p}=${a}`).join(', ')}; tcp allocations ${JSON.stringify(t.tcpAllocations)}`,
    `relay: listeners bound ${bound.join(' ')}, received ${JSON.stringify(received)}, answers through the relay ${t.relayReplies.join(' ') || 'none'}`,
  ].join('\n');
  return { findings, ownHostRelay, summary };
}
