import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  candidateIndexes,
  cidrsOverlap,
  defaultStateDir,
  layoutFor,
  nameProblem,
  parseCidr,
  preferredIndex,
} from '../../../lib/sandbox/layout.js';

describe('sandbox layout', () => {
  it('gives the default sandbox 10.77.0.0/24, bridge rtcops-sb0, guest 10.77.0.2, host 10.77.0.1', () => {
    const layout = layoutFor('sandbox', '/state', preferredIndex('sandbox'));
    assert.deepEqual(
      [layout.subnet, layout.bridge, layout.hostAddress, layout.address, layout.sshPort, layout.user],
      ['10.77.0.0/24', 'rtcops-sb0', '10.77.0.1', '10.77.0.2', 22, 'rtcops'],
    );
    assert.deepEqual(candidateIndexes('sandbox'), [0]);
  });

  it('keeps the operator key, known_hosts, image and apt cache in the state directory', () => {
    const layout = layoutFor('sandbox', '/state', 0);
    assert.equal(layout.keyPath, '/state/id_ed25519');
    assert.equal(layout.knownHostsPath, '/state/known_hosts');
    assert.equal(layout.imageDir, '/state/images/debian-12');
    assert.equal(layout.proxyCacheDir, '/state/apt-proxy/cache/sandbox');
    assert.equal(layout.instanceDir, '/state/instances/sandbox');
  });

  it('keeps one image, .deb cache and apt-cacher-ng per release', () => {
    const d12 = layoutFor('sandbox', '/state', 0);
    const d13 = layoutFor('sandbox', '/state', 0, 'debian-13');
    assert.deepEqual(
      [d13.os, d13.imageDir, d13.imageBuildDir, d13.debCacheDir, d13.proxyRootDir],
      ['debian-13', '/state/images/debian-13', '/state/images/debian-13.build', '/state/deb-cache/debian-13', '/state/images/debian-13.apt-proxy/root'],
    );
    assert.equal(d12.os, 'debian-12', 'Debian 12 unless asked');
    assert.equal(d13.keyPath, d12.keyPath, 'one operator key for all');
  });

  it('hashes other names into 1..254, stably, and tries every other /24 but 0 after it', () => {
    for (const name of ['itest', 'staging', 'a', 'b-2', 'zzzzzzzzzzzz']) {
      const index = preferredIndex(name);
      assert.ok(index >= 1 && index <= 254, `${name} -> ${index}`);
      assert.equal(preferredIndex(name), index);
      const candidates = candidateIndexes(name);
      assert.equal(candidates[0], index);
      assert.equal(new Set(candidates).size, 254);
      assert.ok(!candidates.includes(0));
    }
    assert.notEqual(preferredIndex('itest'), preferredIndex('staging'));
  });

  it('names interfaces within the kernel limit of 15 characters', () => {
    const layout = layoutFor('abcdefghijkl', '/s', 254);
    assert.ok(layout.bridge.length <= 15);
    assert.ok(`vb-${layout.name}`.length <= 15);
  });

  const names: [string, boolean][] = [
    ['sandbox', true],
    ['itest-2', true],
    ['abcdefghijkl', true],
    ['abcdefghijklm', false],
    ['Sandbox', false],
    ['2box', false],
    ['', false],
    ['a/b', false],
    ['a b', false],
  ];
  for (const [name, ok] of names) {
    it(`${ok ? 'accepts' : 'rejects'} the name "${name}"`, () => assert.equal(nameProblem(name) === undefined, ok));
  }

  it('takes the state directory from RTCOPS_SANDBOX_DIR, else ~/.cache/rtcops/sandbox', () => {
    assert.equal(defaultStateDir({ RTCOPS_SANDBOX_DIR: '/x' }, '/home/op'), '/x');
    assert.equal(defaultStateDir({}, '/home/op'), '/home/op/.cache/rtcops/sandbox');
  });
});

describe('IPv4 networks', () => {
  const overlaps: [string, string, boolean][] = [
    ['10.77.0.0/24', '10.77.0.1/24', true],
    ['10.77.0.0/24', '10.77.1.0/24', false],
    ['10.77.0.0/24', '10.0.0.0/8', true],
    ['10.77.0.0/24', '10.77.0.200', true],
    ['10.77.0.0/24', '0.0.0.0/0', true],
    ['10.77.0.0/24', '192.168.1.0/24', false],
    ['10.77.0.0/24', 'default', false],
    ['10.77.0.0/24', 'fe80::/64', false],
  ];
  for (const [a, b, expected] of overlaps) {
    it(`${a} ${expected ? 'overlaps' : 'does not overlap'} ${b}`, () => assert.equal(cidrsOverlap(a, b), expected));
  }

  it('rejects malformed addresses', () => {
    assert.equal(parseCidr('10.77.0.256/24'), undefined);
    assert.equal(parseCidr('10.77.0.0/33'), undefined);
  });
});
