import { errors } from 'mediasoup';
import type { Logger } from 'pino';
import { WebSocket, type RawData } from 'ws';
import type { AuthResult } from './auth.js';
import type { ServerConfig } from './config.js';
import { TokenBucket } from './limits.js';
import type { Metrics } from './metrics.js';
import type { Peer } from './peer.js';
import { CloseCode, type ErrorCode, Preserialized, SignalingError, describeZodError, isMethod, methodSchemas, requestEnvelope } from './protocol.js';
import type { Room } from './room.js';
import { handlers, type SessionContext } from './signaling.js';

export interface SessionDeps {
  cfg: ServerConfig;
  log: Logger;
  metrics: Metrics;
  /** Checks a token presented with "refreshToken" for this room. */
  verify: (token: string, room: string) => AuthResult;
}

type RequestId = string | number | null;

/** How long a kicked client gets to take our close frame before the socket is dropped. */
const KICK_GRACE_MS = 1000;

export function send(ws: WebSocket, text: string): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(text);
}

export function notification(name: string, data: Record<string, unknown>): string {
  return JSON.stringify({ notification: name, data });
}

function okReply(id: RequestId, data: unknown): string {
  const body = data instanceof Preserialized ? data.json : JSON.stringify(data ?? {});
  return `{"id":${JSON.stringify(id)},"ok":true,"data":${body}}`;
}

function errorReply(id: RequestId, code: ErrorCode, message: string): string {
  return JSON.stringify({ id, ok: false, error: { code, message } });
}

/**
 * Serves one peer's socket: heartbeat, the token's expiry, rate and size limits, schema validation, then one
 * handler per request, answered in order. Nothing a client sends can throw past this function.
 */
export function serveSession(ws: WebSocket, room: Room, peer: Peer, expiresAtMs: number, deps: SessionDeps): void {
  const { cfg, metrics } = deps;
  const log = deps.log.child({ room: room.id, peer: peer.id });
  const bucket = new TokenBucket(cfg.limits.messagesPerSecond, cfg.limits.messageBurst);
  let malformed = 0;
  let kicked = false;
  let queue: Promise<void> = Promise.resolve();

  // A client that is kicked is not read any more: it may ignore our close frame and keep sending.
  const kick = (code: number, reason: string, message: string) => {
    if (kicked) return;
    kicked = true;
    log.warn({ event: 'peer_kicked', reason, malformed }, message);
    ws.close(code, message);
    ws.pause();
    setTimeout(() => ws.terminate(), KICK_GRACE_MS).unref();
  };

  let alive = true;
  ws.on('pong', () => { alive = true; });
  const heartbeat = setInterval(() => {
    if (!alive) {
      log.info({ event: 'peer_timeout' }, 'no pong: closing stale peer');
      metrics.socketsClosed.inc({ reason: 'heartbeat_timeout' });
      ws.terminate();
      return;
    }
    alive = false;
    ws.ping();
  }, cfg.limits.heartbeatIntervalMs);

  let expiry: NodeJS.Timeout | undefined;
  const endAt = (ms: number) => {
    clearTimeout(expiry);
    expiry = setTimeout(() => {
      log.info({ event: 'token_expired' }, 'token expired: session ended');
      ws.close(CloseCode.tokenExpired, 'token expired; reconnect or refresh with a new token');
    }, Math.max(0, ms - Date.now()));
  };
  endAt(expiresAtMs);

  ws.once('close', () => {
    clearInterval(heartbeat);
    clearTimeout(expiry);
  });

  const ctx: SessionContext = {
    room, peer, cfg, log, metrics,
    // Closed on the next turn, after the reply to "leave" has been sent.
    leave: () => setImmediate(() => ws.close(CloseCode.normal, 'left')),
    refresh: (token) => {
      const auth = deps.verify(token, room.id);
      if (!auth.ok) throw new SignalingError('forbidden', `token refused: ${auth.reason}`);
      if (auth.claims.sub !== peer.id) throw new SignalingError('forbidden', 'the token is for another peer');
      endAt((auth.claims.exp + cfg.jwt.clockToleranceSec) * 1000);
    },
  };

  const refuseMalformed = (id: RequestId, code: ErrorCode, message: string) => {
    malformed++;
    send(ws, errorReply(id, code, message));
    if (malformed >= cfg.limits.maxMalformedMessages) kick(CloseCode.malformed, 'malformed', 'too many malformed messages');
  };

  ws.on('message', (raw: RawData, isBinary: boolean) => {
    if (kicked) return;
    if (!bucket.take()) return kick(CloseCode.rateLimited, 'rate_limited', 'message rate limit exceeded');
    if (isBinary) return refuseMalformed(null, 'bad_request', 'binary frames are not accepted; send JSON text');
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString());
    } catch {
      return refuseMalformed(null, 'bad_request', 'invalid JSON');
    }
    const env = requestEnvelope.safeParse(parsed);
    if (!env.success) {
      const id = (parsed as { id?: unknown } | null)?.id;
      return refuseMalformed(typeof id === 'number' || typeof id === 'string' ? id : null, 'bad_request', `invalid request: ${describeZodError(env.error, 'request')}`);
    }
    const { id, method } = env.data;
    if (!isMethod(method)) return refuseMalformed(id, 'unknown_method', `unknown method "${method}"`);
    const data = methodSchemas[method].safeParse(env.data.data ?? {});
    if (!data.success) return refuseMalformed(id, 'bad_request', describeZodError(data.error, 'data'));

    queue = queue.then(async () => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const end = metrics.requestDuration.startTimer({ method });
      try {
        const handler = handlers[method] as (c: SessionContext, d: unknown) => unknown;
        const result = await handler(ctx, data.data);
        end({ outcome: 'ok' });
        send(ws, okReply(id, result));
      } catch (err) {
        const refused = err instanceof errors.WorkerClosedError ? new SignalingError('unavailable', 'the media worker is gone; reconnect') : err;
        if (refused instanceof SignalingError) {
          end({ outcome: refused.code });
          log.info({ event: 'request_refused', method, code: refused.code, reason: refused.message }, 'request refused');
          send(ws, errorReply(id, refused.code, refused.message));
        } else {
          end({ outcome: 'internal' });
          log.error({ event: 'request_failed', method, err }, 'request failed');
          send(ws, errorReply(id, 'internal', 'internal error'));
        }
      }
    });
  });
}
