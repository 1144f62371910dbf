import { readFileSync } from 'node:fs';

/**
 * The port nginx's upstream file names (lib/deploy/slots.ts writes it): the deploy slot that serves. Undefined when
 * the file is missing or names no loopback port (a host deployed before slots, a test on loopback).
 */
export function livePort(upstreamFile: string | undefined): number | undefined {
  if (upstreamFile === undefined) return undefined;
  try {
    const m = /127\.0\.0\.1:(\d+)/.exec(readFileSync(upstreamFile, 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** The URL with the live slot's port in place of its own. */
export function liveUrl(url: string, upstreamFile: string | undefined): string {
  const port = livePort(upstreamFile);
  if (port === undefined) return url;
  const u = new URL(url);
  u.port = String(port);
  return u.toString().replace(/\/$/, '');
}
