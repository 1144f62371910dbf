/**
 * Enough of npm's range syntax to read package.json `engines.node` (">=22.12", "^20.10 || >=22", "20.x", "~22.1"):
 * comparators joined by spaces (all must hold), alternatives by "||". Not a full semver: no pre-releases, no hyphen ranges.
 */
type Version = [number, number, number];

/** "v22.12.0", "22.12", "22" → [major, minor, patch], missing parts 0; undefined when it is not a version. */
export function parseVersion(text: string): Version | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+].*)?$/.exec(text.trim());
  if (m === null) return undefined;
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

export function compareVersions(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

/** How many of major.minor.patch a partial version names ("22" → 1, "22.12" → 2); x and * end it. */
function precision(text: string): number {
  return text.replace(/^v/, '').split('.').filter((p) => /^\d+$/.test(p)).length;
}

function comparator(token: string): ((v: Version) => boolean) | undefined {
  const m = /^(>=|<=|>|<|=|\^|~)?\s*(v?[\dxX*]+(?:\.[\dxX*]+){0,2})$/.exec(token);
  if (m === null) return token === '*' || token === '' ? () => true : undefined;
  const op = m[1] ?? '';
  const raw = m[2] ?? '';
  const parts = precision(raw);
  if (parts === 0) return () => true;
  const base = parseVersion(raw.split('.').slice(0, parts).join('.'));
  if (base === undefined) return undefined;
  // The smallest version above everything the partial version names: 22 → 23.0.0, 22.12 → 22.13.0.
  const bump = (at: number): Version => {
    const next: Version = [...base];
    next[at] = (next[at] ?? 0) + 1;
    for (let i = at + 1; i < 3; i++) next[i] = 0;
    return next;
  };
  const cmp = (v: Version, w: Version) => compareVersions(v, w);
  switch (op) {
    case '>=': return (v) => cmp(v, base) >= 0;
    case '>': return parts === 3 ? (v) => cmp(v, base) > 0 : (v) => cmp(v, bump(parts - 1)) >= 0;
    case '<': return (v) => cmp(v, base) < 0;
    case '<=': return parts === 3 ? (v) => cmp(v, base) <= 0 : (v) => cmp(v, bump(parts - 1)) < 0;
    case '^': {
      const at = base[0] !== 0 || parts === 1 ? 0 : base[1] !== 0 || parts === 2 ? 1 : 2;
      return (v) => cmp(v, base) >= 0 && cmp(v, bump(at)) < 0;
    }
    case '~': return (v) => cmp(v, base) >= 0 && cmp(v, bump(parts === 1 ? 0 : 1)) < 0;
    default: return (v) => cmp(v, base) >= 0 && cmp(v, bump(parts - 1)) < 0;
  }
}

/** Does `version` satisfy `range`? undefined when the range (or version) cannot be read. */
export function satisfies(version: string, range: string): boolean | undefined {
  const v = parseVersion(version);
  if (v === undefined) return undefined;
  let any = false;
  for (const alternative of range.split('||')) {
    // ">= 22" is one comparator: join an operator to the version after it.
    const tokens = alternative.trim().replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1').split(/\s+/).filter((t) => t !== '');
    const tests = tokens.map(comparator);
    if (tests.some((t) => t === undefined)) return undefined;
    if (tests.every((t) => t!(v))) any = true;
  }
  return any;
}
