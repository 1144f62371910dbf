import { isIP } from 'node:net';
import { inCidrs } from '../inventory/checks.js';

/**
 * Where the daemon may send alerts and heartbeats: https anywhere; plain http only to an IP address inside a network
 * the config names (an internal relay, Mattermost on the LAN, a test stand-in), never by accident. Messages never
 * hold the URL (a webhook URL is a secret).
 */
export function destinationProblem(url: string, plainHttpTo: readonly string[], what: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `${what} is not a URL`;
  }
  if (u.protocol === 'https:') return undefined;
  if (u.protocol !== 'http:') return `${what} must be an https URL (it is ${u.protocol.replace(':', '')})`;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) === 0) return `${what} is a plain http URL to a name: use https, or an IP address inside one of the private networks allowed for plain http`;
  if (!inCidrs(host, plainHttpTo)) return `${what} is a plain http URL to an address outside the networks allowed for plain http${plainHttpTo.length === 0 ? ' (none are)' : ` (${plainHttpTo.join(', ')})`}`;
  return undefined;
}
