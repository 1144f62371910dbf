import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { missingTools } from '../../helpers/test-tools.js';

describe('what npm test still needs on a machine (scripts/test-tools.txt)', () => {
  const list = '# comment\ncoturn turnserver\n\nnginx nginx\nlibuv1 /usr/lib/x86_64-linux-gnu/libuv.so.1\ncoturn turnutils_stunclient\n';
  const cases: [string, string[], string[]][] = [
    ['a ready machine', ['turnserver', 'nginx', '/usr/lib/x86_64-linux-gnu/libuv.so.1', 'turnutils_stunclient'], []],
    ['a fresh machine: every package, once', [], ['coturn', 'nginx', 'libuv1']],
    ['a missing library file', ['turnserver', 'nginx', 'turnutils_stunclient'], ['libuv1']],
  ];
  for (const [name, present, missing] of cases) {
    it(name, () => assert.deepEqual(missingTools(list, (p) => present.includes(p)), missing));
  }

  it('the shipped list has a probe on every line', () => {
    const lines = readFileSync(new URL('../../../scripts/test-tools.txt', import.meta.url), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    assert.ok(lines.length > 10);
    for (const line of lines) assert.match(line, /^[a-z0-9.+-]+ \S+$/, line);
  });
});
