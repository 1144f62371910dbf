import type { Logger } from 'pino';
import { WebSocket, type RawData } from 'ws';
import type { ServerConfig } from './config.js';
import { TokenBucket } from './limits.js';
import type { Metrics } from './metrics.js';
import { CloseCode, SignalingError, describeZodError, isMethod, methodSchemas, requestEnvelope } from './protocol.js';
import type { Peer, Room } from './room.js';
import { handlers, type SessionContext } from './signaling.js';

export interface SessionDeps {
  cfg: ServerConfig;
  log: Logger;
  metrics: Metrics;
}

type Reply = { id: string | number | null; ok: true; data: unknown } | { id: string | number | null; ok: false; error: { code: string; message: string } };

export function send(ws: WebSocket, msg: unknown): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

/**
 * Serves one peer's socket: rate and size limits, schema validation, then one handler per request,
 * answered in order. Nothing a client sends can throw past this function.
 */
export function serveSession(ws: WebSocket, room: Room, peer: Peer, deps: SessionDeps): void {
  const { cfg, log, metrics } = deps;
  const bucket = new TokenBucket(cfg.limits.messagesPerSecond, cfg.limits.messageBurst);
  let malformed = 0;
  let queue: Promise<void> = Promise.resolve();
  // Closed on the next turn, after the reply to "leave" has been sent.
  const ctx: SessionContext = { room, peer, cfg, leave: () => setImmediate(() => ws.close(CloseCode.normal, 'left')) };
  const plog = log.child({ room: room.id, peer: peer.id });

  const reject = (id: string | number | null, code: string, message: string) => {
    send(ws, { id, ok: false, error: { code, message } } satisfies Reply);
  };
  const countMalformed = (id: string | number | null, message: string) => {
    malformed++;
    reject(id, 'bad_request', message);
    if (malformed >= cfg.limits.maxMalformedMessages) {
      plog.warn({ event: 'peer_kicked', reason: 'malformed', count: malformed }, 'too many malformed messages');
      ws.close(CloseCode.malformed, 'too many malformed messages');
    }
  };

  ws.on('message', (raw: RawData, isBinary: boolean) => {
    if (!bucket.take()) {
      plog.warn({ event: 'peer_kicked', reason: 'rate_limited' }, 'message rate limit exceeded');
      ws.close(CloseCode.rateLimited, 'message rate limit exceeded');
      return;
    }
    if (isBinary) return countMalformed(null, 'binary frames are not accepted; send JSON text');
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString());
    } catch {
      return countMalformed(null, 'invalid JSON');
    }
    const env = requestEnvelope.safeParse(parsed);
    if (!env.success) {
      const id = typeof (parsed as { id?: unknown })?.id === 'number' || typeof (parsed as { id?: unknown })?.id === 'string'
        ? (parsed as { id: string | number }).id : null;
      return countMalformed(id, `invalid request: ${describeZodError(env.error, 'request')}`);
    }
    const { id, method } = env.data;
    if (!isMethod(method)) return countMalformed(id, `unknown method "${method}"`);
    const data = methodSchemas[method].safeParse(env.data.data ?? {});
    if (!data.success) return countMalformed(id, describeZodError(data.error, 'data'));

    queue = queue.then(async () => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const end = metrics.requestDuration.startTimer({ method });
      try {
        const handler = handlers[method] as (c: SessionContext, d: unknown) => unknown;
        const result = await handler(ctx, data.data);
        end({ outcome: 'ok' });
        send(ws, { id, ok: true, data: result ?? {} } satisfies Reply);
      } catch (err) {
        if (err instanceof SignalingError) {
          end({ outcome: err.code });
          reject(id, err.code, err.message);
        } else {
          end({ outcome: 'internal' });
          plog.error({ event: 'request_failed', method, err }, 'request failed');
          reject(id, 'internal', 'internal error');
        }
      }
    });
  });
}
