import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';

/** Everything the server reads from its environment, parsed and checked once at startup. */
export interface ServerConfig {
  port: number;
  host: string;
  listenIp: string;
  announcedIp: string | undefined;
  rtcMinPort: number;
  rtcMaxPort: number;
  /** WebRtcServer mode: worker i listens on webRtcServerPort + i (udp and tcp). Undefined: per-transport port range. */
  webRtcServerPort: number | undefined;
  numWorkers: number;
  jwt: JwtConfig;
  /** Bearer token for the admin-only routes, /status and /metrics. */
  adminToken: string;
  turn: TurnConfig | undefined;
  drainTimeoutMs: number;
  /** Roles allowed to produce media; undefined: every peer may. */
  producerRoles: string[] | undefined;
  trustProxy: boolean;
  limits: LimitsConfig;
  logLevel: string;
}

export interface JwtConfig {
  algorithm: 'HS256' | 'RS256';
  /** HS256 secret or RS256 public key, as a key object built once (jsonwebtoken would rebuild it per token). */
  key: KeyObject;
  /** HS256 only: the secret being rotated away from (JWT_SECRET_PREVIOUS); tokens it signed are still accepted. */
  previousKeys: KeyObject[];
  clockToleranceSec: number;
  /** Longest a token may live: its exp at most this far ahead of now (and of its iat). */
  maxLifetimeSec: number;
  issuer: string | undefined;
  audience: string | undefined;
}

export interface TurnConfig {
  secret: string;
  urls: string[];
  ttlSec: number;
}

export interface LimitsConfig {
  maxConnectionsPerIp: number;
  maxMessageBytes: number;
  messagesPerSecond: number;
  messageBurst: number;
  maxMalformedMessages: number;
  heartbeatIntervalMs: number;
  maxPeersPerRoom: number;
  maxTransportsPerPeer: number;
  maxProducersPerPeer: number;
  maxConsumersPerPeer: number;
}

/** A configuration problem, worded for the operator: names the variable and says how to fix it. */
export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const MIN_SECRET_LENGTH = 32;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function required(env: Env, name: string, hint: string): string {
  const v = str(env, name);
  if (v === undefined) throw new ConfigError(name, `is required but not set; ${hint}`);
  return v;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number between ${min} and ${max}, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false (1/0), got "${raw}"`);
}

function secret(env: Env, name: string, hint: string): string {
  const v = required(env, name, hint);
  if (v.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(name, `is too short (${v.length} characters); use at least ${MIN_SECRET_LENGTH}, e.g. the output of "openssl rand -hex 32"`);
  }
  return v;
}

function ip(env: Env, name: string, fallback: string | undefined): string | undefined {
  const v = str(env, name) ?? fallback;
  if (v !== undefined && isIP(v) === 0) throw new ConfigError(name, `must be an IPv4 or IPv6 address, got "${v}"`);
  return v;
}

function parseJwt(env: Env): JwtConfig {
  const algorithm = (str(env, 'JWT_ALGORITHM') ?? 'HS256').toUpperCase();
  const common = {
    clockToleranceSec: int(env, 'JWT_CLOCK_TOLERANCE_SEC', 30, 0, 600),
    maxLifetimeSec: int(env, 'JWT_MAX_LIFETIME_SEC', 86400, 60, 7 * 86400),
    issuer: str(env, 'JWT_ISSUER'),
    audience: str(env, 'JWT_AUDIENCE'),
  };
  if (algorithm === 'HS256') {
    const current = secret(env, 'JWT_SECRET', 'set it to the HS256 secret your auth service signs tokens with');
    const key = createSecretKey(Buffer.from(current));
    // During a rotation the auth service may still sign with the old secret for a while (RUNBOOK.md#rotate-secrets).
    const previous = str(env, 'JWT_SECRET_PREVIOUS') === undefined ? undefined : secret(env, 'JWT_SECRET_PREVIOUS', 'set it to the secret being rotated away from, or unset it');
    if (previous !== undefined && previous === current) throw new ConfigError('JWT_SECRET_PREVIOUS', 'equals JWT_SECRET: unset it once the rotation is over');
    return { algorithm, key, previousKeys: previous === undefined ? [] : [createSecretKey(Buffer.from(previous))], ...common };
  }
  if (algorithm === 'RS256') {
    const file = required(env, 'JWT_PUBLIC_KEY_FILE', 'with JWT_ALGORITHM=RS256, point it at the PEM public key that verifies tokens');
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError('JWT_PUBLIC_KEY_FILE', `cannot read "${file}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch {
      throw new ConfigError('JWT_PUBLIC_KEY_FILE', `"${file}" is not a PEM public key`);
    }
    if (key.asymmetricKeyType !== 'rsa') throw new ConfigError('JWT_PUBLIC_KEY_FILE', `"${file}" is a ${key.asymmetricKeyType ?? 'non-RSA'} key; RS256 needs an RSA public key`);
    return { algorithm, key, previousKeys: [], ...common };
  }
  throw new ConfigError('JWT_ALGORITHM', `must be HS256 or RS256, got "${algorithm}"`);
}

function parseTurn(env: Env): TurnConfig | undefined {
  const secretSet = str(env, 'TURN_SECRET') !== undefined;
  const urlsRaw = str(env, 'TURN_URLS');
  if (!secretSet && urlsRaw === undefined) return undefined;
  if (urlsRaw === undefined) throw new ConfigError('TURN_URLS', 'is required when TURN_SECRET is set (comma-separated turn:/turns: URLs)');
  const turnSecret = secret(env, 'TURN_SECRET', 'set it to coturn\'s static-auth-secret, or unset TURN_URLS to disable TURN');
  const urls = urlsRaw.split(',').map((u) => u.trim()).filter(Boolean);
  for (const u of urls) {
    if (!/^turns?:[^\s]+$/.test(u)) throw new ConfigError('TURN_URLS', `"${u}" is not a turn: or turns: URL (e.g. turn:turn.example.com:3478?transport=udp)`);
  }
  return { secret: turnSecret, urls, ttlSec: int(env, 'TURN_TTL', 86400, 60, 7 * 86400) };
}

/** Parses the server's environment. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): ServerConfig {
  const listenIp = ip(env, 'LISTEN_IP', '0.0.0.0') as string;
  const announcedIp = ip(env, 'ANNOUNCED_IP', undefined);
  if (announcedIp === undefined && (listenIp === '0.0.0.0' || listenIp === '::')) {
    throw new ConfigError('ANNOUNCED_IP', `is required when LISTEN_IP is ${listenIp}: set it to the public IP clients reach this host on`);
  }
  const rtcMinPort = int(env, 'RTC_MIN_PORT', 40000, 1024, 65535);
  const rtcMaxPort = int(env, 'RTC_MAX_PORT', 49999, 1024, 65535);
  if (rtcMinPort > rtcMaxPort) throw new ConfigError('RTC_MIN_PORT', `(${rtcMinPort}) must not be greater than RTC_MAX_PORT (${rtcMaxPort})`);
  const numWorkers = int(env, 'NUM_WORKERS', availableParallelism(), 1, 256);
  const webRtcServerPortRaw = str(env, 'WEBRTC_SERVER_PORT');
  const webRtcServerPort = webRtcServerPortRaw === undefined ? undefined : int(env, 'WEBRTC_SERVER_PORT', 0, 1024, 65535 - numWorkers + 1);
  const logLevel = str(env, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  return {
    port: int(env, 'PORT', 3000, 0, 65535),
    host: ip(env, 'HOST', '127.0.0.1') as string,
    listenIp,
    announcedIp,
    rtcMinPort,
    rtcMaxPort,
    webRtcServerPort,
    numWorkers,
    jwt: parseJwt(env),
    adminToken: secret(env, 'ADMIN_TOKEN', 'set it to a random token for /status and /metrics, e.g. "openssl rand -hex 32"'),
    turn: parseTurn(env),
    drainTimeoutMs: int(env, 'DRAIN_TIMEOUT_MS', 30000, 0, 3600000),
    producerRoles: str(env, 'PRODUCER_ROLES')?.split(',').map((r) => r.trim()).filter(Boolean),
    trustProxy: bool(env, 'TRUST_PROXY', false),
    limits: {
      maxConnectionsPerIp: int(env, 'MAX_CONNECTIONS_PER_IP', 20, 1, 100000),
      maxMessageBytes: int(env, 'MAX_MESSAGE_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
      messagesPerSecond: int(env, 'MAX_MESSAGES_PER_SECOND', 50, 1, 100000),
      messageBurst: int(env, 'MESSAGE_BURST', 100, 1, 100000),
      maxMalformedMessages: int(env, 'MAX_MALFORMED_MESSAGES', 10, 1, 100000),
      heartbeatIntervalMs: int(env, 'HEARTBEAT_INTERVAL_MS', 15000, 100, 600000),
      maxPeersPerRoom: int(env, 'MAX_PEERS_PER_ROOM', 100, 1, 100000),
      maxTransportsPerPeer: int(env, 'MAX_TRANSPORTS_PER_PEER', 4, 1, 64),
      maxProducersPerPeer: int(env, 'MAX_PRODUCERS_PER_PEER', 8, 1, 256),
      maxConsumersPerPeer: int(env, 'MAX_CONSUMERS_PER_PEER', 200, 1, 10000),
    },
    logLevel,
  };
}
