import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { mintTurnCredentials } from '../lib/turn/credentials.js';
import { extractToken, verifyToken } from './auth.js';
import type { ServerConfig } from './config.js';
import { loadTestPage } from './connection-test.js';
import { clientIp } from './limits.js';
import type { Metrics } from './metrics.js';
import { parseRequestTarget } from './raw-path.js';
import type { StatsCollector } from './stats.js';

export interface HttpDeps {
  cfg: ServerConfig;
  log: Logger;
  metrics: Metrics;
  stats: StatsCollector;
  isDraining: () => boolean;
  /** Resolves when every worker is alive and a router could be created; rejects with the reason otherwise. */
  checkReady: () => Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Constant-time comparison of the presented admin token (compared as hashes so lengths do not leak). */
function isAdmin(req: IncomingMessage, adminToken: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (m?.[1] === undefined) return false;
  const a = createHash('sha256').update(m[1]).digest();
  const b = createHash('sha256').update(adminToken).digest();
  return timingSafeEqual(a, b);
}

/** The page may talk to its own origin only (wss: for the signaling socket; media is not subject to CSP). */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' wss: ws:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

function staticFile(res: ServerResponse, type: string, body: Buffer | undefined): void {
  if (body === undefined) return json(res, 404, { error: 'the connection test page is not built: npm run build' });
  res.writeHead(200, { 'content-type': type, 'content-length': body.length, ...PAGE_HEADERS });
  res.end(body);
}

export function createRequestHandler(deps: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { cfg, log, metrics, stats } = deps;
  const page = loadTestPage();

  /** The admin-only routes are private by themselves, not only behind nginx's allow list. */
  const admitAdmin = (req: IncomingMessage, res: ServerResponse, path: string, accessLevel: 'info' | 'debug'): boolean => {
    const ip = clientIp(req, cfg.trustProxy);
    if (!isAdmin(req, cfg.adminToken)) {
      log.warn({ event: 'admin_rejected', ip, path }, 'admin token missing or wrong');
      json(res, 401, { error: `admin token required for ${path}: send "Authorization: Bearer <ADMIN_TOKEN>"` }, { 'www-authenticate': 'Bearer' });
      return false;
    }
    log[accessLevel]({ event: 'admin_access', ip, path }, `${path.slice(1)} read`);
    return true;
  };

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void> = {
    '/healthz': (_req, res) => json(res, 200, { status: 'ok' }),

    '/readyz': async (_req, res) => {
      if (deps.isDraining()) return json(res, 503, { status: 'draining' });
      try {
        await deps.checkReady();
        json(res, 200, { status: 'ready' });
      } catch (err) {
        json(res, 503, { status: 'not_ready', reason: (err as Error).message });
      }
    },

    '/status': async (req, res) => {
      if (!admitAdmin(req, res, '/status', 'info')) return;
      json(res, 200, await stats.collect());
    },

    '/metrics': async (req, res) => {
      // Prometheus reads it every scrape interval: its accesses are not worth a log line each at info.
      if (!admitAdmin(req, res, '/metrics', 'debug')) return;
      const body = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
      res.end(body);
    },

    // The token comes in the link's #fragment: browsers never send it with this request, so no log holds it.
    '/connection-test': (_req, res) => staticFile(res, 'text/html; charset=utf-8', page?.html),
    '/connection-test/app.js': (_req, res) => staticFile(res, 'text/javascript; charset=utf-8', page?.js),

    '/turn-credentials': (req, res, url) => {
      const ip = clientIp(req, cfg.trustProxy);
      const presented = extractToken(req, url);
      const auth = presented.ok ? verifyToken(presented.token, cfg.jwt) : presented;
      if (!auth.ok) {
        log.warn({ event: 'auth_rejected', ip, reason: auth.reason, path: '/turn-credentials' }, 'signaling auth rejected');
        return json(res, 401, { error: 'valid token required' }, { 'www-authenticate': 'Bearer' });
      }
      if (cfg.turn === undefined) return json(res, 404, { error: 'TURN is not configured on this server' });
      const creds = mintTurnCredentials(cfg.turn.secret, auth.claims.sub, cfg.turn.ttlSec);
      json(res, 200, {
        username: creds.username,
        password: creds.password,
        ttl: cfg.turn.ttlSec,
        expiresAt: creds.expiresAt,
        uris: cfg.turn.urls,
        iceServers: [{ urls: cfg.turn.urls, username: creds.username, credential: creds.password }],
      });
    },
  };

  return (req, res) => {
    const target = parseRequestTarget(req.url);
    if (!target.ok) return json(res, 400, { error: `ambiguous request target refused: ${target.reason}` });
    const route = routes[target.path];
    if (route === undefined) return json(res, 404, { error: 'not found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
    Promise.resolve(route(req, res, target.url)).catch((err: unknown) => {
      log.error({ event: 'http_error', path: target.path, err }, 'request failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  };
}
