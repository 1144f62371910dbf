import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { manifest } from '../../../lib/render/command.js';
import { renderHost } from '../../../lib/render/files.js';
import { exampleHost, fakeSecrets } from '../../fixtures/inventories/hosts.js';

// Review every change to these files: they are what lands on the hosts. Regenerate with UPDATE_GOLDEN=1 npm run test:unit.
// Stored as <host path>.golden so .gitignore patterns (*.env) never hide one.
const GOLDEN = fileURLToPath(new URL('../../golden/', import.meta.url));
const update = process.env.UPDATE_GOLDEN === '1';

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

for (const name of ['sandbox', 'prod'] as const) {
  describe(`golden files: ${name}`, () => {
    const host = exampleHost(name);
    const result = renderHost(host, fakeSecrets(host));
    const dir = join(GOLDEN, name);
    const expected = new Map<string, string>([
      ...result.files.map((f) => [`${f.path.slice(1)}.golden`, f.content] as const),
      ['rtcops-render.json.golden', `${JSON.stringify(manifest(result), null, 2)}\n`],
    ]);

    if (update) {
      rmSync(dir, { recursive: true, force: true });
      for (const [path, text] of expected) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), text);
      }
    }

    test('no file appeared or disappeared', () => assert.deepEqual(listFiles(dir), [...expected.keys()].sort()));
    for (const [path, text] of expected) {
      test(path, () => assert.equal(readFileSync(join(dir, path), 'utf8'), text, `${path} differs from test/golden/${name}: review, then UPDATE_GOLDEN=1`));
    }
  });
}
