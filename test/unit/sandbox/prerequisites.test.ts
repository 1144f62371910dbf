import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type MachineFacts, missingPackages, problems, REQUIRED_COMMANDS, REQUIRED_FILES } from '../../../lib/sandbox/prerequisites.js';

const allThere = Object.fromEntries(Object.keys(REQUIRED_COMMANDS).map((c) => [c, true]));
const filesThere = Object.fromEntries(Object.keys(REQUIRED_FILES).map((f) => [f, true]));
const ready: MachineFacts = { uid: 0, platform: 'linux', hasApt: true, overlayFs: true, commands: allThere, files: filesThere };

describe('sandbox prerequisites', () => {
  it('finds nothing missing on a ready machine', () => assert.deepEqual(problems(ready, { packages: true }), []));

  it('names the package to install for each missing command, once', () => {
    const facts = { ...ready, commands: { ...allThere, 'systemd-nspawn': false, ssh: false, 'ssh-keygen': false } };
    assert.deepEqual(missingPackages(facts), ['systemd-container', 'openssh-client']);
    assert.deepEqual(problems(facts, { packages: true }), [
      'missing packages: systemd-container openssh-client; install them with "apt-get install systemd-container openssh-client" or rerun with --install-deps',
    ]);
  });

  it('asks an Ubuntu machine for Debian\'s archive keys (the image is Debian 12)', () => {
    assert.deepEqual(missingPackages({ ...ready, files: {} }), ['debian-archive-keyring']);
  });

  const cases: [string, Partial<MachineFacts>, RegExp][] = [
    ['not root', { uid: 1000 }, /needs root .* run it with sudo/],
    ['no apt', { hasApt: false }, /needs a Debian or Ubuntu machine/],
    ['no overlayfs', { overlayFs: false }, /modprobe overlay/],
    ['not Linux', { platform: 'darwin' }, /needs Linux/],
  ];
  for (const [name, change, message] of cases) {
    it(`explains ${name}`, () => {
      const found = problems({ ...ready, ...change }, { packages: true });
      assert.equal(found.length, 1);
      assert.match(found[0] ?? '', message);
    });
  }

  it('does not ask for packages when a command needs none (down)', () => {
    assert.deepEqual(problems({ ...ready, commands: {}, files: {} }, { packages: false }), []);
  });
});
