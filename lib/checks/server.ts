import { Agent, request, type Dispatcher } from 'undici';
import type { SecureContext } from 'node:tls';
import { fixedLookup, probeRoom, SignalingClient } from './signaling-client.js';
import { trustContext } from './tls-context.js';
import { liveUrl } from './live-slot.js';
import { combine, type Check, type Finding, type Outcome } from './result.js';

export interface ServerCheckOptions {
  /** The server's own HTTP address, e.g. http://127.0.0.1:3000. */
  url: string;
  /** nginx's upstream file: the port it names (the deploy slot that serves) replaces url's. */
  upstreamFile?: string | undefined;
  /** Signaling endpoint as callers reach it: wss://<domain>/signaling through nginx (ws:// on loopback in tests). */
  signalingUrl: string;
  adminToken: string;
  jwtSecret: string;
  /** Worker CPU use (percent of one core, since the previous run) that warns / is critical. */
  workerCpuWarnPercent: number;
  workerCpuCriticalPercent: number;
  /** CA bundle for a wss:// signaling URL served by a test CA. */
  caFile?: string | undefined;
  /** Connect here (nginx on 127.0.0.1 on the host, or a host's address from the operator) instead of resolving the URLs' domain. */
  address?: string | undefined;
  /** Require /readyz too; nginx does not expose it, so a check through nginx turns it off. */
  readyz?: boolean | undefined;
  requestTimeoutMs: number;
}

interface WorkerStatus { index: number; pid: number; alive: boolean; rooms: number; peers: number; cpuSeconds: number | null }
interface Status { rooms: number; peers: number; draining: boolean; workers: WorkerStatus[] }

async function get(url: string, timeoutMs: number, headers: Record<string, string> = {}, dispatcher?: Dispatcher): Promise<{ status: number; body: unknown }> {
  const res = await request(url, { headers, reset: true, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs), ...(dispatcher === undefined ? {} : { dispatcher }) });
  const text = await res.body.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text for the message.
  }
  return { status: res.statusCode, body };
}

const reason = (error: unknown) => (error as { code?: string }).code ?? (error as Error).message;

/** The signaling path a caller takes: a token, the WebSocket upgrade, then requests answered by a worker. */
export async function signalingProbe(o: Pick<ServerCheckOptions, 'signalingUrl' | 'address' | 'jwtSecret' | 'requestTimeoutMs'>, secureContext: SecureContext): Promise<{ ms: number }> {
  const t0 = performance.now();
  const client = await SignalingClient.connect({ url: o.signalingUrl, address: o.address, jwtSecret: o.jwtSecret, sub: 'rtcops-health', room: probeRoom('signaling'), secureContext, timeoutMs: o.requestTimeoutMs });
  try {
    const caps = await client.request('getRouterRtpCapabilities');
    await client.request('join', { rtpCapabilities: { codecs: caps['codecs'] ?? [], headerExtensions: [] } });
    await client.request('createWebRtcTransport', { direction: 'recv' });
    await client.request('leave');
    return { ms: Math.round(performance.now() - t0) };
  } finally {
    client.close();
  }
}

/** /healthz, /readyz, /status (workers alive, rooms, peers, worker CPU) and a real signaling round trip. */
export class ServerCheck implements Check {
  readonly name = 'server';
  readonly targets: string[];
  private readonly lastCpu = new Map<number, { seconds: number; at: number }>();

  /** Made on the first run: the TLS context every request and signaling probe reuses, and an HTTP client with it. */
  private client: { secureContext: SecureContext; dispatcher: Dispatcher } | undefined;

  constructor(private readonly o: ServerCheckOptions) {
    this.targets = [o.url];
  }

  private get http(): { secureContext: SecureContext; dispatcher: Dispatcher } {
    if (this.client === undefined) {
      const secureContext = trustContext(this.o.caFile);
      this.client = { secureContext, dispatcher: new Agent({ connect: { secureContext, ...(this.o.address === undefined ? {} : { lookup: fixedLookup(this.o.address) }) } }) };
    }
    return this.client;
  }

  private async health(): Promise<Finding[]> {
    const t = this.o.requestTimeoutMs;
    const d = this.http.dispatcher;
    const url = liveUrl(this.o.url, this.o.upstreamFile);
    const findings: Finding[] = [];
    try {
      const h = await get(`${url}/healthz`, t, {}, d);
      findings.push(h.status === 200 ? { status: 'ok', message: '', values: { healthz: 200 } } : { status: 'critical', message: `/healthz answered HTTP ${h.status}`, values: { healthz: h.status } });
    } catch (error) {
      return [{ status: 'critical', message: `the server does not answer on ${url} (${reason(error)})`, values: { healthz: null } }];
    }
    if (this.o.readyz !== false) {
      const r = await get(`${url}/readyz`, t, {}, d);
      const body = r.body as { status?: string; reason?: string };
      if (r.status === 200) findings.push({ status: 'ok', message: '', values: { readyz: 200 } });
      else if (body.status === 'draining') findings.push({ status: 'warn', message: 'the server is draining (shutting down)', values: { readyz: r.status } });
      else findings.push({ status: 'critical', message: `not ready: ${body.reason ?? `HTTP ${r.status}`}`, values: { readyz: r.status } });
    }

    const s = await get(`${url}/status`, t, { authorization: `Bearer ${this.o.adminToken}` }, d);
    if (s.status === 401) return [...findings, { status: 'critical', message: '/status refused the admin token: ADMIN_TOKEN differs from the server\'s', values: {} }];
    if (s.status === 403) return [...findings, { status: 'warn', message: '/status refused this machine (HTTP 403, nginx): its address is not in adminCidrs, so workers were not checked', values: {} }];
    if (s.status !== 200) return [...findings, { status: 'critical', message: `/status answered HTTP ${s.status}`, values: {} }];
    findings.push(...this.gradeStatus(s.body as Status));
    return findings;
  }

  private gradeStatus(st: Status): Finding[] {
    const now = Date.now();
    const dead = st.workers.filter((w) => !w.alive);
    const findings: Finding[] = [{
      status: dead.length > 0 ? 'critical' : 'ok',
      message: dead.map((w) => `mediasoup worker ${w.index} (pid ${w.pid}) is dead`).join('; '),
      values: { workers: st.workers.length, workersAlive: st.workers.length - dead.length, rooms: st.rooms, peers: st.peers },
    }];
    let maxCpu: number | null = null;
    for (const w of st.workers) {
      const prev = this.lastCpu.get(w.pid);
      if (w.cpuSeconds === null) continue;
      this.lastCpu.set(w.pid, { seconds: w.cpuSeconds, at: now });
      if (prev === undefined || now - prev.at < 1000) continue;
      const percent = Math.round(((w.cpuSeconds - prev.seconds) / ((now - prev.at) / 1000)) * 1000) / 10;
      maxCpu = Math.max(maxCpu ?? 0, percent);
    }
    if (maxCpu !== null) {
      const o = this.o;
      const status = maxCpu >= o.workerCpuCriticalPercent ? 'critical' : maxCpu >= o.workerCpuWarnPercent ? 'warn' : 'ok';
      findings.push({ status, message: `a mediasoup worker uses ${maxCpu}% of a core (warning at ${o.workerCpuWarnPercent}%, critical at ${o.workerCpuCriticalPercent}%)`, values: { maxWorkerCpuPercent: maxCpu } });
    }
    return findings;
  }

  async run(): Promise<Outcome[]> {
    const findings = await this.health().catch((error: unknown): Finding[] => [{ status: 'critical', message: `health endpoints: ${reason(error)}`, values: {} }]);
    try {
      const { ms } = await signalingProbe(this.o, this.http.secureContext);
      findings.push({ status: 'ok', message: '', values: { signalingMs: ms } });
    } catch (error) {
      findings.push({ status: 'critical', message: `signaling probe failed: ${(error as Error).message}`, values: { signalingMs: null } });
    }
    const v = combine(findings, '');
    const message = v.status === 'ok' ? `server healthy: ${String(v.values['workersAlive'])}/${String(v.values['workers'])} workers alive, ${String(v.values['rooms'])} rooms, ${String(v.values['peers'])} peers, signaling ${String(v.values['signalingMs'])} ms` : v.message;
    return [{ check: this.name, target: this.o.url, ...v, message }];
  }
}
