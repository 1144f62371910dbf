import type { IncomingMessage } from 'node:http';
import jwt from 'jsonwebtoken';
import type { JwtConfig } from './config.js';

export interface PeerClaims {
  sub: string;
  room: string;
  role: string | undefined;
  /** Expiry, seconds since the epoch: the session ends then unless the peer refreshes its token. */
  exp: number;
}

/** Why a token was refused; logged as `reason` (fail2ban and the daemon read it). */
export type AuthRejection =
  | 'missing'
  | 'malformed'
  | 'bad_signature'
  | 'expired'
  | 'not_before'
  | 'alg_not_allowed'
  | 'bad_claims'
  | 'wrong_room'
  | 'too_long_lived'
  | 'conflicting_tokens'
  | 'oversized';

export type AuthResult = { ok: true; claims: PeerClaims } | { ok: false; reason: AuthRejection };

const ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** Far above any real token (a few hundred bytes; RS256 ~600), far below what would cost memory to hold. */
export const MAX_TOKEN_BYTES = 8192;

export type PresentedToken = { ok: true; token: string | undefined } | { ok: false; reason: 'malformed' | 'conflicting_tokens' | 'oversized' };

/**
 * The bearer token from `Authorization: Bearer …` or, for browsers that cannot set headers on a WebSocket,
 * `?token=`. Both may be sent only if they are the same token: a proxy or client must not be able to make one
 * win over the other.
 */
export function extractToken(req: IncomingMessage, url: URL): PresentedToken {
  const header = req.headers.authorization;
  const query = url.searchParams.getAll('token');
  if ((header?.length ?? 0) > MAX_TOKEN_BYTES + 16 || query.some((t) => t.length > MAX_TOKEN_BYTES)) return { ok: false, reason: 'oversized' };
  if (query.length > 1) return { ok: false, reason: 'conflicting_tokens' };
  let fromHeader: string | undefined;
  if (header !== undefined) {
    fromHeader = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    if (fromHeader === undefined) return { ok: false, reason: 'malformed' };
  }
  const fromQuery = query[0];
  if (fromHeader !== undefined && fromQuery !== undefined && fromHeader !== fromQuery) return { ok: false, reason: 'conflicting_tokens' };
  return { ok: true, token: fromHeader ?? fromQuery };
}

/** The alg of a token's header, read without decoding the rest (jwt.verify decodes it again anyway). */
function headerAlg(token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString()) as { alg?: unknown } | null;
    return typeof header?.alg === 'string' ? header.alg : undefined;
  } catch {
    return undefined;
  }
}

/** The current key first; a key being rotated away from only when the signature did not match the current one. */
function verifyWithAnyKey(token: string, keys: jwt.Secret[], options: jwt.VerifyOptions): jwt.JwtPayload {
  let first: unknown;
  for (const key of keys) {
    try {
      return jwt.verify(token, key, options) as jwt.JwtPayload;
    } catch (err) {
      first ??= err;
      if (!(err instanceof jwt.JsonWebTokenError && err.message === 'invalid signature')) throw err;
    }
  }
  throw first;
}

export function verifyToken(token: string | undefined, cfg: JwtConfig, requestedRoom?: string, nowSec = Date.now() / 1000): AuthResult {
  if (token === undefined || token === '') return { ok: false, reason: 'missing' };
  if (token.length > MAX_TOKEN_BYTES) return { ok: false, reason: 'oversized' };
  const alg = headerAlg(token);
  if (alg === undefined) return { ok: false, reason: 'malformed' };
  if (alg !== cfg.algorithm) return { ok: false, reason: 'alg_not_allowed' };
  let payload: jwt.JwtPayload;
  const options: jwt.VerifyOptions = {
    algorithms: [cfg.algorithm],
    clockTolerance: cfg.clockToleranceSec,
    ...(cfg.issuer !== undefined ? { issuer: cfg.issuer } : {}),
    ...(cfg.audience !== undefined ? { audience: cfg.audience } : {}),
  };
  try {
    payload = verifyWithAnyKey(token, [cfg.key, ...cfg.previousKeys], options);
  } catch (err) {
    if (err instanceof jwt.TokenExpiredError) return { ok: false, reason: 'expired' };
    if (err instanceof jwt.NotBeforeError) return { ok: false, reason: 'not_before' };
    if (err instanceof jwt.JsonWebTokenError && /signature/.test(err.message)) return { ok: false, reason: 'bad_signature' };
    if (err instanceof jwt.JsonWebTokenError && /(audience|issuer)/.test(err.message)) return { ok: false, reason: 'bad_claims' };
    return { ok: false, reason: 'malformed' };
  }
  const { sub, room, role, exp, iat } = payload as { sub?: unknown; room?: unknown; role?: unknown; exp?: unknown; iat?: unknown };
  if (typeof exp !== 'number') return { ok: false, reason: 'bad_claims' };
  if (exp - nowSec > cfg.maxLifetimeSec + cfg.clockToleranceSec) return { ok: false, reason: 'too_long_lived' };
  if (typeof iat === 'number' && exp - iat > cfg.maxLifetimeSec) return { ok: false, reason: 'too_long_lived' };
  if (typeof sub !== 'string' || !ID_PATTERN.test(sub)) return { ok: false, reason: 'bad_claims' };
  if (typeof room !== 'string' || !ID_PATTERN.test(room)) return { ok: false, reason: 'bad_claims' };
  if (role !== undefined && typeof role !== 'string') return { ok: false, reason: 'bad_claims' };
  if (requestedRoom !== undefined && requestedRoom !== room) return { ok: false, reason: 'wrong_room' };
  return { ok: true, claims: { sub, room, role, exp } };
}
