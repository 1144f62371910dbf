import type { IncomingMessage } from 'node:http';
import jwt from 'jsonwebtoken';
import type { JwtConfig } from './config.js';

export interface PeerClaims {
  sub: string;
  room: string;
  role: string | undefined;
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
  | 'wrong_room';

export type AuthResult = { ok: true; claims: PeerClaims } | { ok: false; reason: AuthRejection };

const ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** The bearer token from `Authorization: Bearer …` or, for browsers that cannot set headers on a WebSocket, `?token=`. */
export function extractToken(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m?.[1];
  }
  return url.searchParams.get('token') ?? undefined;
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

export function verifyToken(token: string | undefined, cfg: JwtConfig, requestedRoom?: string): AuthResult {
  if (token === undefined || token === '') return { ok: false, reason: 'missing' };
  const decoded = jwt.decode(token, { complete: true });
  if (decoded === null || typeof decoded.payload === 'string') return { ok: false, reason: 'malformed' };
  if (decoded.header.alg !== cfg.algorithm) return { ok: false, reason: 'alg_not_allowed' };
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
  const { sub, room, role, exp } = payload as { sub?: unknown; room?: unknown; role?: unknown; exp?: unknown };
  if (typeof exp !== 'number') return { ok: false, reason: 'bad_claims' };
  if (typeof sub !== 'string' || !ID_PATTERN.test(sub)) return { ok: false, reason: 'bad_claims' };
  if (typeof room !== 'string' || !ID_PATTERN.test(room)) return { ok: false, reason: 'bad_claims' };
  if (role !== undefined && typeof role !== 'string') return { ok: false, reason: 'bad_claims' };
  if (requestedRoom !== undefined && requestedRoom !== room) return { ok: false, reason: 'wrong_room' };
  return { ok: true, claims: { sub, room, role } };
}
