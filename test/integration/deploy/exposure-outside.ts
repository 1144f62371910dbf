// The exposure suite's client, run inside the outsider's network namespace (ip netns exec): it probes the host the
// way anyone on the internet could and prints what answered, as JSON. Judging the answers is exposure.ts's job.
// Usage: node --import tsx exposure-outside.ts <job.json>
import { readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { connect as tcpConnect } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { createSecureContext } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { TurnClient, TurnError } from '../../../lib/turn/client.js';
import { Class, Method, encode } from '../../../lib/turn/stun-message.js';
import { rawRequest, UPGRADE_HEADERS } from '../../helpers/raw-http.js';

export interface OutsideJob {
  address: string;
  /** The site's name (SNI and Host) and TURN's. */
  domain: string;
  turnDomain: string;
  ca: string;
  jwt: string;
  tcpScan: { concurrency: number; timeoutMs: number };
  udpPorts: number[];
  /** Request targets to send plain and as a WebSocket upgrade. */
  httpTargets: string[];
  turn: {
    port: number;
    tlsPort: number;
    /** Peers that must get no permission (an error response is what is expected). */
    refusedPeers: string[];
    /** Peers that may get a permission, and the ports a datagram is sent to on each. */
    relayTargets: { ip: string; ports: number[] }[];
  };
}

export type UdpAnswer = 'reply' | 'unreachable' | 'silent';

export interface OutsideResult {
  tcpOpen: number[];
  udp: Record<number, UdpAnswer>;
  http: { target: string; upgrade: boolean; status?: number; body?: string; error?: string }[];
  turn: {
    credentials: { status: number; username?: string; error?: string };
    udpAllocation?: string;
    /** peer → 'granted' or the error response (e.g. "403 Forbidden IP"). */
    permissions: Record<string, string>;
    /** What came back through the relay: a Data indication from peer ip:port. */
    relayReplies: string[];
    /** Per control transport: the answer to a TCP allocation (RFC 6062). */
    tcpAllocations: Record<string, string>;
  };
}

function tcpOpen(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: address, port });
    const done = (open: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(open);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Every TCP port, `concurrency` connects at a time: the ones that accepted. */
async function tcpScan(address: string, o: OutsideJob['tcpScan']): Promise<number[]> {
  // One connect first: while the host's address is not resolved (ARP), the kernel queues ~100 packets and drops the
  // rest of the first burst, and a dropped SYN is retried only after 1 s, after our timeout (80 and 443 went missing).
  await tcpOpen(address, 443, 3000);
  const open: number[] = [];
  let next = 1;
  const worker = async () => {
    while (next <= 65535) {
      const port = next++;
      if (await tcpOpen(address, port, o.timeoutMs)) open.push(port);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  // The first burst of sockets is created in one long synchronous stretch, so its timeouts can fire before the
  // connects are read (80 and 443 went missing): the low ports again, a few hundred at a time.
  next = 1;
  const again = async () => {
    while (next <= 8192) {
      const port = next++;
      if (!open.includes(port) && (await tcpOpen(address, port, o.timeoutMs))) open.push(port);
    }
  };
  await Promise.all(Array.from({ length: 512 }, again));
  return open.sort((a, b) => a - b);
}

/**
 * A STUN Binding request to a UDP port, three times within 900 ms: a reply (anything), an ICMP port unreachable (the
 * firewall let the datagram in, nothing listens there) or silence (dropped, or a listener that ignores the payload).
 */
function udpProbe(address: string, port: number): Promise<UdpAnswer> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    let answer: UdpAnswer = 'silent';
    const timers: NodeJS.Timeout[] = [];
    const done = () => {
      timers.forEach(clearTimeout);
      socket.close();
      resolve(answer);
    };
    socket.on('message', () => { answer = 'reply'; done(); });
    socket.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'ECONNREFUSED') { answer = 'unreachable'; done(); } });
    socket.connect(port, address, () => {
      const packet = encode({ method: Method.Binding, cls: Class.request, attributes: [] });
      for (const at of [0, 300, 600]) timers.push(setTimeout(() => socket.send(packet, () => undefined), at));
      timers.push(setTimeout(done, 900));
    });
  });
}

function turnCredentials(job: OutsideJob): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: job.address, port: 443, servername: job.domain, path: '/turn-credentials', headers: { host: job.domain, authorization: `Bearer ${job.jwt}` }, ca: job.ca, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end();
  });
}

const refusal = (e: unknown) => (e instanceof TurnError ? `${e.code} ${e.reason}` : `error: ${(e as Error).message}`);

async function turnProbes(job: OutsideJob): Promise<OutsideResult['turn']> {
  const result: OutsideResult['turn'] = { credentials: { status: 0 }, permissions: {}, relayReplies: [], tcpAllocations: {} };
  const got = await turnCredentials(job).catch((e: Error) => ({ status: 0, body: '', error: e.message }));
  result.credentials = { status: got.status, ...('error' in got ? { error: got.error } : {}) };
  if (got.status !== 200) return result;
  const { username, password } = JSON.parse(got.body) as { username: string; password: string };
  result.credentials.username = username;

  const udp = await TurnClient.connect({ transport: 'udp', host: job.address, port: job.turn.port, timeoutMs: 3000 });
  try {
    const allocation = await udp.allocate(username, password);
    result.udpAllocation = `${allocation.relayed.ip}:${allocation.relayed.port}`;
    for (const peer of [...job.turn.refusedPeers, ...job.turn.relayTargets.map((t) => t.ip)]) {
      result.permissions[peer] = await udp.createPermission(peer).then(() => 'granted', refusal);
    }
    // A STUN Binding request to each port: what a STUN-speaking service (coturn itself) answers; any listener sees it.
    for (const target of job.turn.relayTargets) {
      if (result.permissions[target.ip] !== 'granted') continue;
      for (const port of target.ports) udp.send({ ip: target.ip, port }, encode({ method: Method.Binding, cls: Class.request, transactionId: randomBytes(12), attributes: [] }));
    }
    for (;;) {
      const data = await udp.nextData(1500).catch(() => undefined);
      if (data === undefined) break;
      result.relayReplies.push(`${data.peer.ip}:${data.peer.port}`);
    }
  } catch (e) {
    result.udpAllocation = `refused: ${refusal(e)}`;
  } finally {
    await udp.close();
  }

  const secureContext = createSecureContext({ ca: job.ca });
  const controls = [['tcp', job.turn.port, undefined], ['tls', job.turn.tlsPort, job.turnDomain], ['tls', 443, job.turnDomain]] as const;
  for (const [transport, port, servername] of controls) {
    const name = `${transport}:${port}`;
    try {
      const client = await TurnClient.connect({ transport, host: job.address, port, servername, secureContext, timeoutMs: 3000 });
      try {
        const a = await client.allocate(username, password, 60, 'tcp');
        result.tcpAllocations[name] = `granted: ${a.relayed.ip}:${a.relayed.port}`;
      } catch (e) {
        result.tcpAllocations[name] = refusal(e);
      } finally {
        await client.close();
      }
    } catch (e) {
      result.tcpAllocations[name] = `no connection: ${(e as Error).message}`;
    }
  }
  return result;
}

async function httpProbes(job: OutsideJob): Promise<OutsideResult['http']> {
  const to = { host: job.address, port: 443, tls: true, hostHeader: job.domain };
  const cases = job.httpTargets.flatMap((target) => [{ target, upgrade: false }, { target, upgrade: true }]);
  const out: OutsideResult['http'] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      const r = await rawRequest(to, c.target, c.upgrade ? UPGRADE_HEADERS : {}).then((reply) => ({ status: reply.status, body: reply.body.slice(0, 400) }), (e: Error) => ({ error: e.message }));
      out.push({ ...c, ...r });
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return out;
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as OutsideJob;
const tcp = await tcpScan(job.address, job.tcpScan);
const udp: Record<number, UdpAnswer> = {};
await Promise.all(job.udpPorts.map(async (p) => { udp[p] = await udpProbe(job.address, p); }));
const http = await httpProbes(job);
const turn = await turnProbes(job);
process.stdout.write(JSON.stringify({ tcpOpen: tcp, udp, http, turn } satisfies OutsideResult));
