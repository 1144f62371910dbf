import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** How the host's SSH key is pinned: exactly one of these comes from the inventory. */
export interface HostKeyPin {
  hostKey?: string | undefined;
  fingerprint?: string | undefined;
  knownHostsFile?: string | undefined;
}

/** OpenSSH's fingerprint of a raw key blob: "SHA256:" + unpadded base64 of its SHA-256. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key blobs a known_hosts file pins for `address` (port 22) or `[address]:port` (other ports). Hashed entries are not supported. */
export function knownHostsBlobs(knownHosts: string, address: string, port: number): Buffer[] {
  const names = port === 22 ? [address, `[${address}]:22`] : [`[${address}]:${port}`];
  return knownHosts
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 3 && !f[0]?.startsWith('#') && (f[0] ?? '').split(',').some((n) => names.includes(n)))
    .map((f) => Buffer.from(f[2] ?? '', 'base64'));
}

/** Fingerprints the pin accepts; empty means nothing is pinned for this address (refused, never trusted on first use). */
export function pinnedFingerprints(pin: HostKeyPin, address: string, port: number): string[] {
  const out: string[] = [];
  if (pin.fingerprint !== undefined) out.push(pin.fingerprint.replace(/=+$/, ''));
  if (pin.hostKey !== undefined) out.push(fingerprintOf(Buffer.from(pin.hostKey.split(/\s+/)[1] ?? '', 'base64')));
  if (pin.knownHostsFile !== undefined) {
    let text = '';
    try {
      text = readFileSync(pin.knownHostsFile, 'utf8');
    } catch {
      // A missing file pins nothing: the connection is refused with a message naming the file.
    }
    out.push(...knownHostsBlobs(text, address, port).map(fingerprintOf));
  }
  return out;
}
