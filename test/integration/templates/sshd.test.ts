import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { ResolvedHost } from '../../../lib/inventory/index.js';
import { exampleHost } from '../../fixtures/inventories/hosts.js';
import { rendered, run, tempDir, tool, writeFile } from './tools.js';

/**
 * A main sshd_config shaped like Debian's: the drop-in directory is included first, then permissive
 * stock values follow. The drop-in must win, as it does on a real host.
 */
function sshdConfig(dir: string, host: ResolvedHost): string {
  const dropIn = rendered(host, 'sshd-hardening');
  writeFile(join(dir, 'sshd_config.d', dropIn.path.split('/').at(-1) ?? 'x.conf'), dropIn.content);
  execFileSync(tool('ssh-keygen', 'openssh-client'), ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  return writeFile(
    join(dir, 'sshd_config'),
    [
      `Include ${dir}/sshd_config.d/*.conf`,
      `HostKey ${dir}/host_key`,
      `PidFile ${dir}/sshd.pid`,
      'UsePAM yes',
      'PasswordAuthentication yes',
      'PermitRootLogin yes',
      'X11Forwarding yes',
      'AllowTcpForwarding yes',
      '',
    ].join('\n'),
  );
}

/** sshd wants /run/sshd: give it a private /run instead of touching the machine's. */
async function sshd(args: string[]) {
  const sshdPath = tool('sshd', 'openssh-server');
  return run(tool('unshare', 'util-linux'), ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /run && mkdir /run/sshd && exec "$@"', 'sh', sshdPath, ...args]);
}

async function effective(t: TestContext, host: ResolvedHost, user: string): Promise<Map<string, string>> {
  const config = sshdConfig(tempDir(t, 'sshd'), host);
  const check = await sshd(['-t', '-f', config]);
  assert.equal(check.exitCode, 0, check.output);
  const dump = await sshd(['-T', '-C', `user=${user},host=client.test,addr=203.0.113.9`, '-f', config]);
  assert.equal(dump.exitCode, 0, dump.output);
  // sshd -T prints list keywords (allowusers) once per value: join them.
  const values = new Map<string, string>();
  for (const line of dump.output.split('\n')) {
    const [keyword = '', ...rest] = line.split(' ');
    const previous = values.get(keyword);
    values.set(keyword, previous === undefined ? rest.join(' ') : `${previous} ${rest.join(' ')}`);
  }
  return values;
}

describe('sshd hardening drop-in: sshd -t accepts it and sshd -T shows it wins', () => {
  const expected: [keyword: string, value: string][] = [
    ['passwordauthentication', 'no'],
    ['kbdinteractiveauthentication', 'no'],
    ['permitemptypasswords', 'no'],
    ['permitrootlogin', 'no'],
    ['maxauthtries', '3'],
    ['logingracetime', '30'],
    ['allowtcpforwarding', 'no'],
    ['allowagentforwarding', 'no'],
    ['allowstreamlocalforwarding', 'no'],
    ['x11forwarding', 'no'],
    ['permittunnel', 'no'],
    ['allowusers', 'rtcops'],
    ['kexalgorithms', 'sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512'],
    ['ciphers', 'chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr'],
    ['macs', 'hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,umac-128-etm@openssh.com'],
  ];

  test('sandbox (deploy user rtcops)', async (t) => {
    const values = await effective(t, exampleHost('sandbox'), 'rtcops');
    for (const [keyword, value] of expected) assert.equal(values.get(keyword), value, keyword);
  });

  test('a host rtcops reaches as root keeps key-only root login', async (t) => {
    const host = exampleHost('sandbox');
    host.ssh.user = 'root';
    host.ssh.sudo = false;
    host.sshd.allowUsers = ['root'];
    host.sshd.permitRootLogin = 'prohibit-password';
    const values = await effective(t, host, 'root');
    assert.equal(values.get('permitrootlogin'), 'without-password');
    assert.equal(values.get('allowusers'), 'root');
  });

  test('AllowUsers and AllowGroups from the inventory', async (t) => {
    const host = exampleHost('sandbox');
    host.sshd.allowUsers = ['rtcops', 'alice'];
    host.sshd.allowGroups = ['ops'];
    const values = await effective(t, host, 'alice');
    assert.equal(values.get('allowusers'), 'rtcops alice');
    assert.equal(values.get('allowgroups'), 'ops');
  });

  test('a drop-in sshd rejects fails the check (the check can fail)', async (t) => {
    const dir = tempDir(t, 'sshd');
    const config = sshdConfig(dir, exampleHost('sandbox'));
    writeFile(join(dir, 'sshd_config.d', '00-broken.conf'), 'Ciphers rot13\n');
    const check = await sshd(['-t', '-f', config]);
    assert.notEqual(check.exitCode, 0);
    assert.match(check.output, /Bad SSH2 cipher spec 'rot13'/);
  });
});
