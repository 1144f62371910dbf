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

/** The names a file imports from `to` (`*` for a namespace, default or dynamic import, or a bare path). */
function namesFrom(r: Reference): string[] {
  const text = readFileSync(join(REPO, r.from), 'utf8');
  const names: string[] = [];
  let named = false;
  for (const m of text.matchAll(/(?:import|export)\s+(?:type\s+)?(?:\{([^}]*)\}|([\w$*][^'"`]*?))\s*from\s*['"]([^'"]+)['"]/g)) {
    if (relative(REPO, resolve(REPO, dirname(r.from), m[3] ?? '')) !== r.to) continue;
    named = true;
    if (m[1] === undefined) names.push('*');
    else names.push(...m[1].split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0] ?? '').filter((n) => n !== ''));
  }
  return named ? names : ['*'];
}

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

describe('lib/provision/ is provisioning, not plumbing', () => {
  // [file outside lib/provision/ may import these names from it, because]
  const entryPoints: [string, string[], string][] = [
    ['lib/provision/engine.js', ['provisionHost', 'HostReport'], 'a restore provisions the host it rebuilds: the provisioning run itself'],
  ];
  test('the scan reads the names of an import, type-only ones too', () => {
    const names = namesFrom({ from: 'lib/backup/restore.ts', to: 'lib/provision/engine.js', line: 0 });
    for (const n of ['provisionHost', 'HostReport']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  });

  test('every entry point listed is still imported (remove it when it is not)', () => {
    for (const [to, names, why] of entryPoints) {
      const used = all.filter((r) => r.to === to && !r.from.startsWith('lib/provision/')).flatMap(namesFrom);
      for (const n of names) assert.ok(used.includes(n), `${to} ${n}: ${why}`);
    }
  });

  const plumbing = all
    .filter((r) => r.to.startsWith('lib/provision/') && !r.from.startsWith('lib/provision/') && !allowed(r))
    .flatMap((r) => namesFrom(r).filter((n) => !entryPoints.some(([to, names]) => to === r.to && names.includes(n))).map((n) => `${r.from} → ${r.to}: ${n}`));

  test('every import of lib/provision/ from outside it is one of its entry points (connections, targets, on-host paths and PM2 belong in lib/host/)', () => {
    assert.deepEqual(plumbing, []);
  });
});

describe('lib/host/ is the floor: one place for a host\'s connection, targets, layout, PM2 and audit lines', () => {
  // What lib/host/ may stand on: the inventory it reads, the runner's quoting and connection types, the CLI's errors.
  const FLOOR = ['lib/host/', 'lib/inventory/', 'lib/runner/', 'lib/cli.js'];
  test('lib/host/ names nothing but the inventory, the runner and the CLI\'s errors', () => {
    const bad = all.filter((r) => r.from.startsWith('lib/host/') && !FLOOR.some((f) => r.to.startsWith(f)));
    assert.deepEqual(bad.map(show), []);
  });

  // [an on-host path or binary, as it would be spelled by hand]
  const spelled: string[] = ['/var/log/rtcops', '/var/lib/rtcops', '/etc/rtcops', '/opt/rtcops', '.deploy.lock', '.deploy.flock', '/.pm2',
    '/usr/local/bin/node', '/usr/local/bin/pm2', '-health.service', 'sites-enabled/', 'sites-available/', 'renewal-hooks/', 'certbot.service.d'];
  const code = (file: string) => readFileSync(join(REPO, file), 'utf8').split('\n').map((text, i) => ({ file, line: i + 1, text }))
    // Comments and descriptions may name a path; code must take it from lib/host/layout.ts.
    .filter((l) => !/^\s*(\/\/|\*|\/\*\*)/.test(l.text) && !l.text.includes('.describe('));
  test('on-host paths are spelled only in lib/host/layout.ts', () => {
    const bad = sources('lib').filter((f) => !f.startsWith('lib/host/')).flatMap(code)
      .filter((l) => spelled.some((p) => l.text.includes(p))).map((l) => `${l.file}:${l.line}: ${l.text.trim()}`);
    assert.deepEqual(bad, []);
  });
});

describe('engines are given a Runner: they do not open connections', () => {
  // [file that may call SshTarget.connect, because]
  const mayConnect: [string, string][] = [
    ['lib/host/connection.ts', 'sshTo: the one place a Runner to a host is opened'],
    ['lib/doctor/host.ts', 'the doctor\'s login check tests SSH itself'],
  ];
  test('SshTarget.connect appears only where a connection is the point', () => {
    const callers = sources('lib').filter((f) => !f.startsWith('lib/runner/') && readFileSync(join(REPO, f), 'utf8').includes('SshTarget.connect('));
    assert.deepEqual(callers, mayConnect.map(([f]) => f).sort());
  });
});
