import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inventoryReference } from '../../../lib/inventory/docs.js';

const DOC = fileURLToPath(new URL('../../../docs/inventory.md', import.meta.url));

test('docs/inventory.md is the reference generated from the schema (UPDATE_DOCS=1 npm run test:unit regenerates it)', () => {
  if (process.env.UPDATE_DOCS === '1') writeFileSync(DOC, inventoryReference());
  assert.equal(readFileSync(DOC, 'utf8'), inventoryReference());
});

test('every key in the reference has a description', () => {
  const undocumented = inventoryReference()
    .split('\n')
    .filter((line) => line.startsWith('| `') && line.endsWith('|  |'));
  assert.deepEqual(undocumented, []);
});
