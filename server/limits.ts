import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** Counts open connections per client IP. */
export class ConnectionCounter {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerIp: number) {}

  tryAcquire(ip: string): boolean {
    const n = this.open.get(ip) ?? 0;
    if (n >= this.maxPerIp) return false;
    this.open.set(ip, n + 1);
    return true;
  }

  release(ip: string): void {
    const n = (this.open.get(ip) ?? 0) - 1;
    if (n <= 0) this.open.delete(ip);
    else this.open.set(ip, n);
  }
}

/** A token bucket: `ratePerSec` tokens a second, at most `burst` saved up. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly ratePerSec: number, private readonly burst: number, now = Date.now()) {
    this.tokens = burst;
    this.last = now;
  }

  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

function isLoopback(addr: string): boolean {
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}

/**
 * The client's address. Behind nginx (trustProxy) the socket peer is loopback and the real address is in
 * X-Real-IP (or the last X-Forwarded-For hop nginx appended); headers from anyone else are ignored.
 */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  const fwd = req.headers['x-forwarded-for'];
  const real = req.headers['x-real-ip'];
  return clientAddress(req.socket.remoteAddress, typeof real === 'string' ? real : undefined, Array.isArray(fwd) ? fwd.join(',') : fwd, trustProxy);
}

/** clientIp for a request Node could not parse (headers too large): the headers are read from its first bytes. */
export function clientIpFromRaw(peer: string | undefined, raw: string, trustProxy: boolean): string {
  const header = (name: string) => new RegExp(`\r\n${name}:[ \t]*([^\r\n]*)`, 'i').exec(raw)?.[1];
  return clientAddress(peer, header('x-real-ip'), header('x-forwarded-for'), trustProxy);
}

function clientAddress(socketPeer: string | undefined, realIp: string | undefined, forwardedFor: string | undefined, trustProxy: boolean): string {
  const peer = socketPeer ?? 'unknown';
  if (!trustProxy || !isLoopback(peer)) return peer;
  if (realIp !== undefined && isIP(realIp.trim()) !== 0) return realIp.trim();
  const last = (forwardedFor ?? '').split(',').map((s) => s.trim()).filter(Boolean).pop();
  return last !== undefined && isIP(last) !== 0 ? last : peer;
}
