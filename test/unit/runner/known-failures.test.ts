import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandFailedError, knownFailureHint } from '../../../lib/runner/errors.js';

describe('failures operators meet on real hosts get a hint that says what to do', () => {
  it('apt lock held by unattended-upgrades names the process', () => {
    const out = 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (unattended-upgr)\nE: Unable to acquire the dpkg frontend lock';
    assert.match(knownFailureHint(out) ?? '', /\/var\/lib\/dpkg\/lock-frontend \(process 4242, unattended-upgr\).*wait for it to finish/);
  });
  it('a package that does not exist names the package', () => {
    assert.match(knownFailureHint('E: Unable to locate package libfoo9') ?? '', /no package libfoo9.*apt-cache policy libfoo9/);
    assert.match(knownFailureHint("E: Package 'python3-certbot-nginx' has no installation candidate") ?? '', /no package python3-certbot-nginx/);
  });
  it('interrupted dpkg and a full disk', () => {
    assert.match(knownFailureHint("E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.") ?? '', /dpkg --configure -a/);
    assert.match(knownFailureHint('cp: error writing: No space left on device') ?? '', /disk is full/);
  });
  it('other failures get no made-up hint', () => {
    assert.equal(knownFailureHint('nginx: [emerg] unknown directive "foo"'), undefined);
  });
  it('CommandFailedError carries the hint', () => {
    const e = new CommandFailedError('prod-1', 'install nginx', 100, 'E: Unable to locate package nginx-extras');
    assert.match(e.hint ?? '', /no package nginx-extras/);
    assert.match(e.message, /install nginx failed \(exit 100\)/);
  });
});
