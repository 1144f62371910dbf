import { randomBytes } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import type { SecureContext } from 'node:tls';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';

/** Resolve every name to `address`: connect there while SNI and Host stay the URL's domain (nginx on loopback). */
export function fixedLookup(address: string): LookupFunction {
  const family = address.includes(':') ? 6 : 4;
  return (_name, options, cb) => {
    if (options.all === true) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else cb(null, address, family);
  };
}

/** A minimal client of the server's signaling protocol ({id, method, data} → {id, ok, data|error}), for probes. */
export class SignalingClient {
  private nextId = 1;

  private constructor(private readonly ws: WebSocket, private readonly timeoutMs: number) {}

  /** Connect with a short-lived token for `sub` in `room`; errors never carry the URL (it holds the token). */
  static async connect(o: { url: string; jwtSecret: string; sub: string; room: string; secureContext?: SecureContext | undefined; address?: string | undefined; timeoutMs: number }): Promise<SignalingClient> {
    const token = jwt.sign({ sub: o.sub, room: o.room }, o.jwtSecret, { algorithm: 'HS256', expiresIn: 120 });
    let ws: WebSocket;
    try {
      ws = new WebSocket(`${o.url}?token=${token}`, { handshakeTimeout: o.timeoutMs, ...(o.secureContext === undefined ? {} : { secureContext: o.secureContext }), ...(o.address === undefined ? {} : { lookup: fixedLookup(o.address) }) });
    } catch {
      throw new Error(`invalid signaling URL ${o.url}`);
    }
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => { ws.terminate(); reject(new Error(`WebSocket upgrade answered HTTP ${res.statusCode}`)); });
      ws.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`WebSocket: ${err.code ?? err.message}`)));
    });
    ws.on('error', () => undefined);
    return new SignalingClient(ws, o.timeoutMs);
  }

  request<T = Record<string, unknown>>(method: string, data: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const done = () => { clearTimeout(timer); this.ws.off('message', onMessage); this.ws.off('close', onClose); };
      const timer = setTimeout(() => { done(); reject(new Error(`${method}: no answer within ${this.timeoutMs} ms`)); }, this.timeoutMs);
      const onMessage = (raw: WebSocket.RawData) => {
        const msg = JSON.parse(raw.toString()) as { id?: number; ok?: boolean; data?: T; error?: { code: string; message: string } };
        if (msg.id !== id) return;
        done();
        if (msg.ok === true) resolve(msg.data ?? ({} as T));
        else reject(new Error(`${method}: ${msg.error?.code ?? 'error'}: ${msg.error?.message ?? ''}`));
      };
      const onClose = (code: number) => { done(); reject(new Error(`${method}: socket closed (${code})`)); };
      this.ws.on('message', onMessage);
      this.ws.on('close', onClose);
      this.ws.send(JSON.stringify({ id, method, data }));
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

/** A room name of its own per probe, so probes never meet real callers. */
export const probeRoom = (what: string) => `rtcops-health-${what}-${randomBytes(4).toString('hex')}`;
