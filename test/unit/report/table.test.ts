import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { table } from '../../../lib/report/table.js';

describe('table: the results of doctor and check as plain text', () => {
  test('columns padded to the widest cell, the last one as it is', () => {
    assert.equal(table(['STATUS', 'CHECK', 'MESSAGE'], [['OK', 'node', 'v22.23.3'], ['FAIL', 'ssh-key', 'mode 0644  — fix: chmod 600']]), [
      'STATUS  CHECK    MESSAGE',
      'OK      node     v22.23.3',
      'FAIL    ssh-key  mode 0644  — fix: chmod 600',
    ].join('\n'));
  });
});
