import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InventoryError, loadInventory } from '../../../lib/inventory/index.js';
import { renderMain } from '../../../lib/render/command.js';

const BROKEN = fileURLToPath(new URL('../../fixtures/inventories/broken/', import.meta.url));
const files = readdirSync(BROKEN).filter((f) => f.endsWith('.yaml')).sort();

/** Each fixture says what is wrong with it in its leading `# expect:` lines, exactly as the loader must report it. */
function expected(file: string): string[] {
  return readFileSync(join(BROKEN, file), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('# expect: '))
    .map((line) => line.slice('# expect: '.length));
}

const secrets = { T_JWT_SECRET: 'test-jwt-secret-not-real-0000000000000000', T_ADMIN_TOKEN: 'test-admin-token-not-real-000000000000000', T_TURN_SECRET: 'test-turn-secret-not-real-000000000000000' };
Object.assign(process.env, secrets);
const out = mkdtempSync(join(tmpdir(), 'rtcops-broken-'));
after(() => rmSync(out, { recursive: true, force: true }));

describe('broken inventories: every problem reported with its path, and nothing rendered', () => {
  test('the corpus is large enough to mean something', () => assert.ok(files.length >= 30, `${files.length} fixtures`));

  for (const file of files) {
    test(file.replace(/\.yaml$/, ''), async () => {
      const want = expected(file);
      assert.ok(want.length > 0, `${file} has no "# expect:" line`);
      const error = (() => {
        try {
          loadInventory(join(BROKEN, file));
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      assert.ok(error instanceof InventoryError, `${file} loaded without an error`);
      assert.deepEqual(error.issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`)), want);
      // Only a key missing from the top of the file has no line to point at.
      assert.ok(error.issues.every((i) => i.line !== undefined || i.path === 'hosts'), 'every issue names its line');

      const target = join(out, file);
      const printed: string[] = [];
      const status = await renderMain(['-i', join(BROKEN, file), 'prod', '--out', target], { out: (t) => printed.push(t), err: (t) => printed.push(t) }).catch((e: unknown) => e);
      assert.ok(status instanceof InventoryError, 'render stops with the inventory error');
      assert.equal(existsSync(target), false, 'render wrote nothing');
    });
  }
});
