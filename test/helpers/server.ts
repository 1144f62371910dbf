import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import jwt from 'jsonwebtoken';
import pino from 'pino';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../server/app.js';
import { loadConfig, type ServerConfig } from '../../server/config.js';

export const JWT_SECRET = `test-jwt-secret-${randomBytes(16).toString('hex')}`;
export const ADMIN_TOKEN = `test-admin-token-${randomBytes(16).toString('hex')}`;
export const TURN_SECRET = `test-turn-secret-${randomBytes(16).toString('hex')}`;

/** Environment for a server on loopback with one worker; override any variable. */
export function testEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    LISTEN_IP: '127.0.0.1',
    ANNOUNCED_IP: '127.0.0.1',
    RTC_MIN_PORT: '41000',
    RTC_MAX_PORT: '41999',
    NUM_WORKERS: '1',
    JWT_SECRET,
    ADMIN_TOKEN,
    TURN_SECRET,
    TURN_URLS: 'turn:127.0.0.1:3478?transport=udp,turn:127.0.0.1:3478?transport=tcp,turns:127.0.0.1:5349?transport=tcp',
    DRAIN_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'debug',
    ...overrides,
  };
}

export interface TestServer {
  server: RunningServer;
  cfg: ServerConfig;
  port: number;
  http: string;
  ws: string;
  /** Parsed log lines the server wrote so far. */
  logs: Record<string, unknown>[];
  fatal: Error[];
  stop: () => Promise<void>;
}

export async function startTestServer(overrides: Record<string, string | undefined> = {}): Promise<TestServer> {
  const cfg = loadConfig(testEnv(overrides));
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const fatal: Error[] = [];
  const server = await startServer(cfg, { log: pino({ level: cfg.logLevel }, sink), onFatal: (err) => fatal.push(err) });
  return {
    server, cfg, logs, fatal, port: server.port,
    http: `http://127.0.0.1:${server.port}`,
    ws: `ws://127.0.0.1:${server.port}/signaling`,
    stop: () => server.close(),
  };
}

export function token(claims: Record<string, unknown>, opts: jwt.SignOptions = {}, secret: jwt.Secret = JWT_SECRET): string {
  return jwt.sign(claims, secret, { algorithm: 'HS256', ...(claims['exp'] === undefined ? { expiresIn: 300 } : {}), ...opts });
}

type Response = { id: number; ok: boolean; data?: unknown; error?: { code: string; message: string } };
type Notification = { notification: string; data: Record<string, unknown> };

/** A minimal client of the signaling protocol, for tests and benchmarks. */
export class SignalingClient {
  private nextId = 1;
  private readonly pending = new Map<number, (r: Response) => void>();
  readonly notifications: Notification[] = [];
  private readonly waiters: { name: string; match: (n: Notification) => boolean; resolve: (n: Notification) => void }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw.toString()) as Response | Notification;
      if ('notification' in msg) {
        this.notifications.push(msg);
        for (const w of [...this.waiters]) {
          if (w.name === msg.notification && w.match(msg)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(msg);
          }
        }
      } else {
        this.pending.get(msg.id)?.(msg);
        this.pending.delete(msg.id);
      }
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      for (const settle of this.pending.values()) settle({ id: -1, ok: false, error: { code: 'closed', message: `socket closed (${code})` } });
      this.pending.clear();
      resolve({ code, reason: reason.toString() });
    }));
  }

  static connect(url: string, opts: WebSocket.ClientOptions = {}): Promise<SignalingClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, opts);
      ws.once('open', () => resolve(new SignalingClient(ws)));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
  }

  /** Sends a request and resolves with the whole response (ok or not). */
  call(method: string, data: Record<string, unknown> = {}): Promise<Response> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, data }));
    return new Promise((resolve) => this.pending.set(id, resolve));
  }

  /** Sends a request and resolves with its data, or rejects with the server's error. */
  async request<T = Record<string, unknown>>(method: string, data: Record<string, unknown> = {}): Promise<T> {
    const r = await this.call(method, data);
    if (!r.ok) throw Object.assign(new Error(`${method}: ${r.error?.code}: ${r.error?.message}`), { code: r.error?.code });
    return r.data as T;
  }

  waitFor(name: string, match: (n: Notification) => boolean = () => true, timeoutMs = 5000): Promise<Notification> {
    const seen = this.notifications.find((n) => n.notification === name && match(n));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${name}" notification within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ name, match, resolve: (n) => { clearTimeout(timer); resolve(n); } });
    });
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}

/** Opus RTP parameters as a browser would send them for one audio track. */
export function opusRtpParameters(ssrc: number): Record<string, unknown> {
  return {
    mid: '0',
    codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [] }],
    headerExtensions: [],
    encodings: [{ ssrc }],
    rtcp: { cname: 'test-cname', reducedSize: true },
  };
}

/** Receive capabilities for Opus, as a client's device would report them. */
export const opusRtpCapabilities = {
  codecs: [{ kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }],
  headerExtensions: [],
};

/** DTLS parameters a client would send (a syntactically valid sha-256 fingerprint). */
export const clientDtlsParameters = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: Array(32).fill('AB').join(':') }] };

export interface StatusCounts { rooms: number; peers: number; transports: number; producers: number; consumers: number }

/** The counts /status reports, summed over the workers. */
export async function statusCounts(http: string): Promise<StatusCounts> {
  const st = await (await fetch(`${http}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json() as { rooms: number; peers: number; workers: { transports: number; producers: number; consumers: number }[] };
  const sum = (k: 'transports' | 'producers' | 'consumers') => st.workers.reduce((n, w) => n + w[k], 0);
  return { rooms: st.rooms, peers: st.peers, transports: sum('transports'), producers: sum('producers'), consumers: sum('consumers') };
}

/** The server's /metrics text, read with the admin token as Prometheus does. */
export async function metricsText(http: string): Promise<string> {
  const r = await fetch(`${http}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (r.status !== 200) throw new Error(`GET ${http}/metrics answered ${r.status}: ${await r.text()}`);
  return r.text();
}

/** Polls until `check` returns true, or fails with what it last saw. */
export async function eventually<T>(read: () => Promise<T> | T, check: (v: T) => boolean, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (!check(last)) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
    last = await read();
  }
  return last;
}
