import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareVersions, parseVersion, satisfies } from '../../../lib/doctor/node-version.js';

describe('engines.node ranges', () => {
  test('versions parse with or without v and missing parts', () => {
    assert.deepEqual(parseVersion('v22.12.0'), [22, 12, 0]);
    assert.deepEqual(parseVersion('20'), [20, 0, 0]);
    assert.deepEqual(parseVersion('22.1.3-nightly'), [22, 1, 3]);
    assert.equal(parseVersion('lts'), undefined);
    assert.ok(compareVersions([22, 12, 0], [22, 9, 9]) > 0);
  });

  const cases: [string, string, boolean][] = [
    ['v22.12.0', '>=22.12', true],
    ['v22.23.3', '>=22.12', true],
    ['v22.11.9', '>=22.12', false],
    ['v20.18.0', '>=22.12', false],
    ['v24.0.0', '>=22.12', true],
    ['v20.10.0', '^20.10 || >=22', true],
    ['v21.0.0', '^20.10 || >=22', false],
    ['v22.0.0', '^20.10 || >=22', true],
    ['v20.5.0', '20.x', true],
    ['v21.5.0', '20.x', false],
    ['v22.1.9', '~22.1', true],
    ['v22.2.0', '~22.1', false],
    ['v18.0.0', '>=18 <20', true],
    ['v20.0.0', '>=18 <20', false],
    ['v22.5.0', '>= 22.5', true],
    ['v22.5.0', '>22', false],
    ['v23.0.0', '>22', true],
    ['v22.9.0', '<=22', true],
    ['v22.5.1', '22.5.1', true],
    ['v22.5.2', '22.5.1', false],
    ['v1.0.0', '*', true],
  ];
  for (const [version, range, expected] of cases) {
    test(`${version} ${expected ? 'satisfies' : 'does not satisfy'} "${range}"`, () => assert.equal(satisfies(version, range), expected));
  }

  test('an unreadable range is undefined, not a guess', () => {
    assert.equal(satisfies('v22.0.0', 'node-lts'), undefined);
    assert.equal(satisfies('nonsense', '>=22'), undefined);
  });
});
