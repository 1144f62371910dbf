import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';

/**
 * The tree's dependency rule: daemon/ and server/ stand on lib/, lib/ stands on neither, and neither process
 * reaches into the other.
 */

const REPO = resolve(import.meta.dirname, '../../..');

/** Every .ts file under a top-level folder, repo-relative. */
function sources(dir: string): string[] {
  return readdirSync(join(REPO, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f))
    .sort();
}

interface Reference {
  from: string;
  /** Repo-relative path of the file named, as written (.js for a .ts module). */
  to: string;
  line: number;
}

/**
 * Every module file a source names with a relative path: static imports and re-exports, import(), and any other
 * string literal (a dynamic import through a variable, an esbuild entry in new URL(...)), so none slips through.
 */
function references(file: string): Reference[] {
  const text = readFileSync(join(REPO, file), 'utf8');
  const out: Reference[] = [];
  for (const m of text.matchAll(/(['"`])(\.{1,2}\/[^'"`\s]*?\.(?:js|ts|mjs|cjs|json))\1/g)) {
    const spec = m[2] ?? '';
    out.push({ from: file, to: relative(REPO, resolve(REPO, dirname(file), spec)), line: text.slice(0, m.index).split('\n').length });
  }
  return out;
}

const topOf = (path: string) => path.split('/')[0] ?? '';
const show = (r: Reference) => `${r.from}:${r.line} names ${r.to}`;

/** A reference the rule allows, and why. */
const ALLOWED: { from: string; to: string; why: string }[] = [
  { from: 'lib/provision/artifacts.ts', to: 'daemon/main.ts', why: 'the file esbuild bundles into the daemon installed on hosts: a path it reads, not a module lib/ loads' },
];
const allowed = (r: Reference) => ALLOWED.some((a) => a.from === r.from && a.to === r.to);

const all = ['lib', 'daemon', 'server'].flatMap(sources).flatMap(references);

describe('the dependency rule: daemon/ and server/ import lib/; lib/ imports neither', () => {
  test('the scan sees imports, dynamic imports through a variable, and file paths', () => {
    const seen = (from: string, to: string) => all.some((r) => r.from === from && r.to === to);
    assert.ok(seen('daemon/main.ts', 'lib/checks/index.js'), 'a static import');
    assert.ok(seen('lib/checks/media-probe.ts', 'lib/checks/media-call.js'), 'an import()');
    assert.ok(seen('lib/checks/index.ts', 'lib/backup/scheduled.js'), 'an import() through a variable');
    assert.ok(seen('lib/provision/artifacts.ts', 'daemon/main.ts'), 'a file path in new URL(...)');
  });

  // [who, what it may not name]
  const rules: [string, string[]][] = [
    ['lib', ['daemon', 'server']],
    ['daemon', ['server']],
    ['server', ['daemon']],
  ];
  for (const [who, banned] of rules) {
    test(`${who}/ names nothing in ${banned.map((b) => `${b}/`).join(' or ')}`, () => {
      const bad = all.filter((r) => topOf(r.from) === who && banned.includes(topOf(r.to)) && !allowed(r));
      assert.deepEqual(bad.map(show), []);
    });
  }

  test('every allowed exception is still there (remove it from ALLOWED when it is gone)', () => {
    for (const a of ALLOWED) assert.ok(all.some((r) => r.from === a.from && r.to === a.to), `${a.from} → ${a.to}: ${a.why}`);
  });
});
