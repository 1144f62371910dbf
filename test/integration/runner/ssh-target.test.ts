import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { AuthError, CommandFailedError, HostKeyMismatchError, SshTarget, UnreachableError, type SshConnection } from '../../../lib/runner/index.js';
import { freePort } from '../../helpers/process.js';
import { startSshd, type TestSshd } from '../../helpers/sshd.js';

describe('the SSH runner against a real sshd', () => {
  let sshd: TestSshd;
  let conn: SshConnection;
  before(async () => {
    sshd = await startSshd();
    conn = { name: 'test', address: '127.0.0.1', port: sshd.port, user: 'root', keyPath: sshd.keyPath, knownHostsFile: sshd.knownHostsFile, sudo: false, connectTimeoutMs: 5000 };
  });
  after(() => sshd.stop());

  it('passes every argument through the remote shell exactly once', async () => {
    const t = await SshTarget.connect(conn);
    try {
      const args = ['plain', 'two words', "it's", '$(touch /tmp/pwned)', 'a;b|c&d', '*', '', 'new\nline'];
      const r = await t.exec(['printf', '[%s]\\n', ...args]);
      assert.equal(r.stdout, args.map((a) => `[${a}]`).join('\n'));
    } finally {
      t.close();
    }
  });

  it('runs scripts with set -euo pipefail and reports the failing command', async () => {
    const t = await SshTarget.connect(conn);
    try {
      assert.equal((await t.script('x=$(echo hi)\necho "$x"')).stdout, 'hi');
      await assert.rejects(t.script('false\necho never'), (e: CommandFailedError) => e instanceof CommandFailedError && e.code === 1);
      const r = await t.exec(['sh', '-c', 'echo oops >&2; exit 3'], { allowFailure: true });
      assert.deepEqual([r.code, r.stderr], [3, 'oops']);
      await assert.rejects(t.exec(['sh', '-c', 'echo oops >&2; exit 3'], { summary: 'the oops step' }), /the oops step failed \(exit 3\): oops/);
    } finally {
      t.close();
    }
  });

  it('uploads bytes intact with the requested mode', async () => {
    const t = await SshTarget.connect(conn);
    try {
      const data = randomBytes(300_000);
      const path = `${sshd.dir}/upload.bin`;
      await t.upload(data, path, 0o600);
      const r = await t.exec(['sh', '-c', `sha256sum ${path} | cut -d' ' -f1; stat -c %a ${path}`]);
      assert.equal(r.stdout, `${createHash('sha256').update(data).digest('hex')}\n600`);
    } finally {
      t.close();
    }
  });

  it('refuses a host whose key is not the pinned one, naming both fingerprints', async () => {
    const other = spawnSync('sh', ['-c', `ssh-keygen -q -t ed25519 -N '' -f ${sshd.dir}/other && cat ${sshd.dir}/other.pub`], { encoding: 'utf8' }).stdout.trim();
    await assert.rejects(SshTarget.connect({ ...conn, knownHostsFile: undefined, hostKey: other }), (e: Error) =>
      e instanceof HostKeyMismatchError && /host key mismatch for 127\.0\.0\.1: it presented SHA256:\S+, the inventory pins SHA256:\S+/.test(e.message));
  });

  it('refuses to connect when nothing is pinned (no trust on first use)', async () => {
    await assert.rejects(SshTarget.connect({ ...conn, knownHostsFile: `${sshd.dir}/missing_known_hosts` }), (e: Error) =>
      e instanceof HostKeyMismatchError && /no host key pinned/.test(e.message));
  });

  it('says the key was refused, and where to put it', async () => {
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${sshd.dir}/stranger`]);
    await assert.rejects(SshTarget.connect({ ...conn, keyPath: `${sshd.dir}/stranger` }), (e: AuthError) =>
      e instanceof AuthError && /SSH key .*stranger was refused for root@127\.0\.0\.1/.test(e.message) && /authorized_keys/.test(e.hint ?? ''));
  });

  it('says the host is unreachable when nothing listens', async () => {
    const port = await freePort();
    await assert.rejects(SshTarget.connect({ ...conn, port, knownHostsFile: undefined, hostKey: sshd.hostKey }), (e: Error) =>
      e instanceof UnreachableError && /connection refused by 127\.0\.0\.1/.test(e.message));
  });
});
