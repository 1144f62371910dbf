import { BlockList, isIP } from 'node:net';

/** Small predicates shared by the schema and the cross-field checks. */

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A DNS name with at least two labels (rtc.example.com), lower case, no trailing dot. */
export function isHostname(value: string): boolean {
  if (value.length > 253 || isIP(value) !== 0) return false;
  const labels = value.split('.');
  return labels.length >= 2 && labels.every((label) => LABEL.test(label)) && !/^\d+$/.test(labels.at(-1) ?? '');
}

/** An IPv4 or IPv6 network in CIDR notation; a bare address is not accepted (write /32 or /128). */
export function isCidr(value: string): boolean {
  const [address, bits, extra] = value.split('/');
  if (address === undefined || bits === undefined || extra !== undefined || !/^\d{1,3}$/.test(bits)) return false;
  const family = isIP(address);
  const prefix = Number(bits);
  return (family === 4 && prefix <= 32) || (family === 6 && prefix <= 128);
}

export function isIpAddress(value: string): boolean {
  return isIP(value) !== 0;
}

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The closest candidate within a small edit distance, or undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: { candidate: string; d: number } | undefined;
  for (const candidate of candidates) {
    const d = distance(word, candidate);
    if (d <= limit && (best === undefined || d < best.d)) best = { candidate, d };
  }
  return best?.candidate;
}

export function didYouMean(word: string, candidates: readonly string[]): string {
  const suggestion = closest(word, candidates);
  return suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
}

function blockOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [address = '', bits = ''] = c.split('/');
    list.addSubnet(address, Number(bits), isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** Whether an IP address lies inside one of the CIDRs. */
export function inCidrs(ip: string, cidrs: readonly string[]): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  return blockOf(cidrs.filter(isCidr)).check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

/** Loopback, RFC 1918, shared (CGNAT) and IPv6 unique-local networks: not routed on the Internet. */
export const PRIVATE_CIDRS = ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '::1/128', 'fc00::/7'] as const;

/** A network wholly inside one of PRIVATE_CIDRS. */
export function isPrivateCidr(cidr: string): boolean {
  if (!isCidr(cidr)) return false;
  const [address = '', bits = ''] = cidr.split('/');
  return PRIVATE_CIDRS.some((p) => Number(bits) >= Number(p.split('/')[1]) && inCidrs(address, [p]));
}
