import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { probeSudo } from '../../../lib/doctor/host.js';
import { SshTarget } from '../../../lib/runner/index.js';
import { startSshd, type TestSshd } from '../../helpers/sshd.js';

// The throw-away sshd only lets root in (and this machine may have no sudo), so the sudo probe runs over a real
// SSH session whose PATH holds only a stand-in `sudo` script: each case rewrites what that stand-in does.
describe('doctor\'s sudo probe over a real SSH session', () => {
  const bin = mkdtempSync(join(tmpdir(), 'rtcops-doctor-sudo-'));
  let sshd: TestSshd;
  let target: SshTarget;
  const standIn = (body: string | undefined) => {
    rmSync(join(bin, 'sudo'), { force: true });
    if (body !== undefined) writeFileSync(join(bin, 'sudo'), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  };

  before(async () => {
    mkdirSync(bin, { recursive: true });
    sshd = await startSshd(`SetEnv PATH=${bin}`);
    target = await SshTarget.connect({ name: 'loop', address: '127.0.0.1', port: sshd.port, user: 'root', keyPath: sshd.keyPath, knownHostsFile: sshd.knownHostsFile, sudo: false, connectTimeoutMs: 10_000 });
  });
  after(async () => {
    target?.close();
    await sshd?.stop();
    rmSync(bin, { recursive: true, force: true });
  });

  it('sudo -n succeeds: ok', async () => {
    standIn('[ "$1" = "-n" ] && [ "$2" = "true" ] && exit 0; exit 9');
    const r = await probeSudo('loop', 'deploy', target);
    assert.deepEqual([r.status, r.message], ['ok', 'passwordless sudo works for deploy']);
  });

  it('sudo wants a password: fail with the sudoers drop-in', async () => {
    standIn('echo "sudo: a password is required" >&2; exit 1');
    const r = await probeSudo('loop', 'deploy', target);
    assert.equal(r.status, 'fail');
    assert.equal(r.message, 'passwordless sudo missing for deploy: sudo -n true exited 1 (sudo: a password is required)');
    assert.match(r.fix ?? '', /echo 'deploy ALL=\(ALL\) NOPASSWD:ALL' > \/etc\/sudoers\.d\/rtcops-deploy/);
  });

  it('no sudo on the host: fail, install it first', async () => {
    standIn(undefined);
    const r = await probeSudo('loop', 'deploy', target);
    assert.equal(r.status, 'fail');
    assert.equal(r.message, 'sudo is not installed on loop');
    assert.match(r.fix ?? '', /^on the host as root: apt-get install sudo; then /);
  });
});
