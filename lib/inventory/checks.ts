import { isIP } from 'node:net';

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
