import { randomBytes } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';

export interface SignalingProbeOptions {
  /** wss://<domain>/signaling */
  url: string;
  jwtSecret: string;
  timeoutMs: number;
  /** Connect here instead of resolving the domain (a host DNS does not point at yet; the sandbox). SNI and Host stay the domain. */
  address?: string | undefined;
  /** Extra trusted CA (a test ACME CA). */
  ca?: Buffer | undefined;
}

export interface SignalingProbeResult {
  ok: boolean;
  ms: number;
  /** The step that failed and what the server answered. */
  error?: string;
  /** A certificate the probe does not trust: retrying will not help. */
  certificate?: boolean;
}

const CERT_ERROR = /CERT|UNABLE_TO_(GET|VERIFY)|SELF_SIGNED|ALTNAME/;

/**
 * A real signaling round trip from the operator's side, through nginx: a JWT minted with the host's secret, the
 * WebSocket upgrade, getRouterRtpCapabilities, join and createWebRtcTransport answered. Its own room, so it never
 * meets callers.
 */
export async function probeSignaling(o: SignalingProbeOptions): Promise<SignalingProbeResult> {
  const t0 = performance.now();
  const room = `rtcops-deploy-${randomBytes(4).toString('hex')}`;
  const token = jwt.sign({ sub: `rtcops-deploy-${randomBytes(3).toString('hex')}`, room }, o.jwtSecret, { algorithm: 'HS256', expiresIn: 120 });
  const lookup: LookupFunction | undefined = o.address === undefined ? undefined : (_name, options, cb) => {
    const family = o.address?.includes(':') ? 6 : 4;
    if (options.all === true) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: o.address!, family }]);
    else cb(null, o.address!, family);
  };
  let step = 'connect';
  const ws = new WebSocket(o.url, { handshakeTimeout: o.timeoutMs, headers: { authorization: `Bearer ${token}` }, ...(o.ca !== undefined ? { ca: o.ca } : {}), ...(lookup !== undefined ? { lookup } : {}) });
  ws.on('error', () => undefined);
  let nextId = 1;
  const request = (method: string, data: Record<string, unknown> = {}) => new Promise<Record<string, unknown>>((resolve, reject) => {
    const id = nextId++;
    const done = () => { clearTimeout(timer); ws.off('message', onMessage); ws.off('close', onClose); };
    const timer = setTimeout(() => { done(); reject(new Error(`no answer within ${o.timeoutMs} ms`)); }, o.timeoutMs);
    const onMessage = (raw: WebSocket.RawData) => {
      const msg = JSON.parse(raw.toString()) as { id?: number; ok?: boolean; data?: Record<string, unknown>; error?: { code: string; message: string } };
      if (msg.id !== id) return;
      done();
      if (msg.ok === true) resolve(msg.data ?? {});
      else reject(new Error(`${msg.error?.code ?? 'error'}: ${msg.error?.message ?? ''}`));
    };
    const onClose = (code: number) => { done(); reject(new Error(`socket closed (${code})`)); };
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.send(JSON.stringify({ id, method, data }));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no WebSocket within ${o.timeoutMs} ms`)), o.timeoutMs);
      ws.once('open', () => { clearTimeout(timer); resolve(); });
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        let body = '';
        res.on('data', (d: Buffer) => { body += d.toString(); });
        res.on('end', () => reject(new Error(`upgrade answered HTTP ${res.statusCode}${body === '' ? '' : `: ${body.slice(0, 200)}`}`)));
        res.on('error', () => reject(new Error(`upgrade answered HTTP ${res.statusCode}`)));
      });
      ws.once('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); reject(new Error(err.code ?? err.message)); });
    });
    step = 'getRouterRtpCapabilities';
    const caps = await request('getRouterRtpCapabilities');
    step = 'join';
    await request('join', { rtpCapabilities: { codecs: caps['codecs'] ?? [], headerExtensions: [] } });
    step = 'createWebRtcTransport';
    const transport = await request('createWebRtcTransport', { direction: 'recv' });
    if (typeof transport['transportId'] !== 'string') throw new Error('answer has no transportId');
    step = 'leave';
    await request('leave');
    return { ok: true, ms: Math.round(performance.now() - t0) };
  } catch (err) {
    const message = (err as Error).message;
    return { ok: false, ms: Math.round(performance.now() - t0), error: `${step}: ${message}`, ...(step === 'connect' && CERT_ERROR.test(message) ? { certificate: true } : {}) };
  } finally {
    ws.terminate();
  }
}
