/**
 * The request target exactly as the client sent it, or why it is refused. Routes are matched on this raw path, never
 * on a URL parser's normalization: a parser that turns `\` into `/`, resolves `..` or decodes `%2e` would let
 * `/signaling\..\metrics` (forwarded as it is by a proxy that matched `/signaling`) reach another route.
 */
export type RequestTarget = { ok: true; path: string; url: URL } | { ok: false; reason: string };

/** Percent-encoding is refused in the path only: query values (room names) may need it, and are never routed on. */
const PATH_RULES: [RegExp, string][] = [
  [/\\/, 'a backslash'],
  [/%/, 'a percent-encoded byte'],
  [/\/\//, 'a doubled slash'],
  [/\/\.\.?(\/|$)/, 'a dot segment'],
];

export function parseRequestTarget(raw: string | undefined): RequestTarget {
  const target = raw ?? '';
  if (!target.startsWith('/')) return { ok: false, reason: 'the request target must be a path starting with /' };
  // Visible ASCII only: no control bytes, spaces or non-ASCII anywhere, and no fragment (clients never send one).
  if (!/^[\x21-\x7e]*$/.test(target)) return { ok: false, reason: 'the request target has a control, space or non-ASCII byte' };
  if (target.includes('#')) return { ok: false, reason: 'the request target has a fragment (#)' };
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  for (const [pattern, what] of PATH_RULES) {
    if (pattern.test(path)) return { ok: false, reason: `the path has ${what}; send the exact path` };
  }
  return { ok: true, path, url: new URL(target, 'http://localhost') };
}
