import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { planFirewall, ufwCommands } from '../../../lib/inventory/index.js';
import { exampleHost } from '../../fixtures/inventories/hosts.js';
import { run, tempDir, tool, writeFile } from './tools.js';

const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

/** Fingerprint of the machine's ufw configuration: the test must leave it exactly as it was. */
function hostUfwState(): string {
  const hash = createHash('sha256');
  for (const file of ['/etc/default/ufw', ...readdirSync('/etc/ufw').map((f) => join('/etc/ufw', f))]) {
    if (statSync(file).isFile()) hash.update(file).update(readFileSync(file));
  }
  return hash.digest('hex');
}

/**
 * Apply the plan with the real ufw inside private mount and network namespaces: /etc/ufw and
 * /etc/default/ufw are bind-mounted copies (ufw writes them even for --dry-run), iptables rules stay
 * in the throw-away network namespace. The script stops before ufw runs if the copies are not in place.
 */
function script(dir: string, commands: string[][]): string {
  return writeFile(
    join(dir, 'apply.sh'),
    [
      'set -eu',
      `tmp=${quote(dir)}`,
      'mount -t tmpfs tmpfs /run',
      'cp -a /etc/ufw "$tmp/etc-ufw"',
      `sed "s|^IPT_SYSCTL=.*|IPT_SYSCTL=$tmp/sysctl.conf|" /etc/default/ufw > "$tmp/default-ufw"`,
      ': > "$tmp/sysctl.conf"',
      'mount --bind "$tmp/etc-ufw" /etc/ufw',
      'mount --bind "$tmp/default-ufw" /etc/default/ufw',
      'grep -q "^IPT_SYSCTL=$tmp/sysctl.conf" /etc/default/ufw',
      ...commands.map((argv) => argv.map(quote).join(' ')),
      'ufw --force enable',
      'ufw status verbose',
      '',
    ].join('\n'),
  );
}

describe('UFW plan: the real ufw accepts every command (in throw-away namespaces)', () => {
  test('sandbox plan with the production default (SSH rate-limited): default deny, SSH limited to the admin network, ranges with comments', async (t) => {
    tool('ufw', 'ufw');
    const host = exampleHost('sandbox');
    host.firewall.sshRateLimit = true;
    tool('iptables', 'iptables');
    const before = hostUfwState();
    const dir = tempDir(t, 'ufw');
    const { exitCode, output } = await run(tool('unshare', 'util-linux'), ['--mount', '--net', '--propagation', 'private', 'sh', script(dir, ufwCommands(planFirewall(host)))]);
    assert.equal(hostUfwState(), before, "the machine's /etc/ufw must be untouched");
    assert.equal(exitCode, 0, output);

    assert.match(output, /^Status: active$/m);
    // Routed shows "disabled" while the kernel does not forward, as on a host that is not a router.
    assert.match(output, /^Default: deny \(incoming\), allow \(outgoing\), disabled \(routed\)$/m);
    const rules = output.split('\n').filter((line) => /^\d/.test(line)).map((line) => line.replace(/\s{2,}/g, ' | '));
    assert.deepEqual(rules, [
      '22/tcp | LIMIT IN | 10.77.0.1 | # ssh from admin network',
      '80/tcp | ALLOW IN | Anywhere | # http: acme challenges and redirect',
      '443/tcp | ALLOW IN | Anywhere | # https: signaling',
      '3478/udp | ALLOW IN | Anywhere | # turn',
      '3478/tcp | ALLOW IN | Anywhere | # turn over tcp',
      '5349/tcp | ALLOW IN | Anywhere | # turn over tls',
      '50000:50999/udp | ALLOW IN | Anywhere | # turn relay',
      '40000:40999/udp | ALLOW IN | Anywhere | # mediasoup rtc',
      '40000:40999/tcp | ALLOW IN | Anywhere | # mediasoup rtc over tcp',
      '9100/tcp | ALLOW IN | 10.77.0.1 | # node_exporter from admin network',
      '80/tcp (v6) | ALLOW IN | Anywhere (v6) | # http: acme challenges and redirect',
      '443/tcp (v6) | ALLOW IN | Anywhere (v6) | # https: signaling',
      '3478/udp (v6) | ALLOW IN | Anywhere (v6) | # turn',
      '3478/tcp (v6) | ALLOW IN | Anywhere (v6) | # turn over tcp',
      '5349/tcp (v6) | ALLOW IN | Anywhere (v6) | # turn over tls',
      '50000:50999/udp (v6) | ALLOW IN | Anywhere (v6) | # turn relay',
      '40000:40999/udp (v6) | ALLOW IN | Anywhere (v6) | # mediasoup rtc',
      '40000:40999/tcp (v6) | ALLOW IN | Anywhere (v6) | # mediasoup rtc over tcp',
    ]);
  });
});
