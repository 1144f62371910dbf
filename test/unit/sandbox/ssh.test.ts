import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pinnedKeyBlobs, pinnedKnownHosts, sshArgv } from '../../../lib/sandbox/ssh.js';

const ed = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDyS5lW3Ge3Kf8m5Ci2bMCTn7kB9xVZ9Qx9eYw2qTQbb';
const ec = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY=';

describe('pinned SSH host keys', () => {
  it('replaces the lines of one address and keeps other sandboxes', () => {
    const existing = `10.77.0.2 ssh-ed25519 OLD\n10.77.9.2 ssh-ed25519 OTHER\n`;
    assert.equal(pinnedKnownHosts(existing, '10.77.0.2', [ec, ed]), `10.77.9.2 ssh-ed25519 OTHER\n10.77.0.2 ${ec}\n10.77.0.2 ${ed}\n`);
    assert.equal(pinnedKnownHosts('', '10.77.0.2', [ed]), `10.77.0.2 ${ed}\n`);
  });

  it('hands the verifier the raw key blobs of that address only', () => {
    const blobs = pinnedKeyBlobs(`10.77.0.2 ${ed}\n10.77.9.2 ${ec}\n`, '10.77.0.2');
    assert.equal(blobs.length, 1);
    assert.deepEqual(blobs[0], Buffer.from(ed.split(' ')[1] ?? '', 'base64'));
    assert.deepEqual(pinnedKeyBlobs(`10.77.0.2 ${ed}\n`, '10.77.0.22'), []);
  });

  it('runs the system ssh client with the pinned file, strict checking and the operator key', () => {
    const target = { address: '10.77.0.2', sshPort: 22, user: 'rtcops', keyPath: '/s/id_ed25519', knownHostsPath: '/s/known_hosts' };
    assert.deepEqual(sshArgv(target, ['uptime']), [
      'ssh', '-i', '/s/id_ed25519', '-o', 'UserKnownHostsFile=/s/known_hosts', '-o', 'StrictHostKeyChecking=yes',
      '-o', 'IdentitiesOnly=yes', '-p', '22', 'rtcops@10.77.0.2', 'uptime',
    ]);
  });

  it('quotes each word of the command once, for the guest\'s shell that ssh hands the joined line to', () => {
    const target = { address: '10.77.0.2', sshPort: 22, user: 'rtcops', keyPath: '/s/k', knownHostsPath: '/s/kh' };
    const cases: [string[], string][] = [
      [['uptime'], 'uptime'],
      [['sudo', 'bash', '-c', 'echo "a b" | wc -w'], `sudo bash -c 'echo "a b" | wc -w'`],
      [['echo', "it's", '$HOME', ''], `echo 'it'\\''s' '$HOME' ''`],
    ];
    for (const [command, line] of cases) assert.equal(sshArgv(target, command).at(-1), line, command.join(' '));
    assert.equal(sshArgv(target).at(-1), 'rtcops@10.77.0.2', 'no command: an interactive login');
  });
});
