import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { layoutFor } from '../../../lib/sandbox/layout.js';
import { bridgeUpArgvs, conflictFor, probeArgvs } from '../../../lib/sandbox/network.js';

describe('sandbox network', () => {
  const inUse = [
    { cidr: '172.16.0.5/24', owner: 'interface eth0' },
    { cidr: '10.77.3.1/24', owner: 'interface docker7' },
    { cidr: '10.77.8.0/22', owner: 'route 10.77.8.0/22 dev wg0' },
  ];
  const cases: [number, string[], string | undefined][] = [
    [0, [], undefined],
    [3, [], 'interface docker7'],
    [9, [], 'route 10.77.8.0/22 dev wg0'],
    [12, [], undefined],
    [0, ['rtcops-sb0'], 'interface rtcops-sb0 exists'],
  ];
  for (const [index, links, owner] of cases) {
    it(`10.77.${index}.0/24 with links [${links.join(',')}] is ${owner ? `taken by ${owner}` : 'free'}`, () =>
      assert.equal(conflictFor(index, inUse, links), owner));
  }

  it('creates the bridge with the host address and brings it up', () => {
    assert.deepEqual(bridgeUpArgvs(layoutFor('sandbox', '/s', 0)), [
      ['ip', 'link', 'add', 'name', 'rtcops-sb0', 'type', 'bridge'],
      ['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'rtcops-sb0'],
      ['ip', 'link', 'set', 'rtcops-sb0', 'up'],
    ]);
  });

  it('plugs a probe namespace into the bridge at .3 with interface names the kernel accepts', () => {
    const { probe, argvs } = probeArgvs(layoutFor('sandbox', '/s', 0), 3);
    assert.deepEqual(probe, { namespace: 'rtcops-sandbox-p3', address: '10.77.0.3' });
    assert.deepEqual(argvs[2], ['ip', 'link', 'set', 'rtsb0p3', 'master', 'rtcops-sb0', 'up']);
    assert.deepEqual(argvs[3], ['ip', '-n', 'rtcops-sandbox-p3', 'addr', 'add', '10.77.0.3/24', 'dev', 'eth0']);
    const longest = probeArgvs(layoutFor('abcdefghijkl', '/s', 254), 254);
    assert.ok(longest.argvs.flat().filter((a) => a.startsWith('rtsb')).every((a) => a.length <= 15));
  });
});
