// Converging a provisioned host after drift, seen from outside (a namespace on the sandbox bridge) while it happens:
// the firewall is swapped atomically, fail2ban's bans survive, and drift in what the host really uses (the loaded
// rule set, sshd's effective configuration) is seen, named, and fixed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadInventory, resolveSecrets, type HostSecrets, type ResolvedHost } from '../../../lib/inventory/index.js';
import { provisionMain } from '../../../lib/provision/command.js';
import { connectionOf } from '../../../lib/host/index.js';
import { provisionHost } from '../../../lib/provision/engine.js';
import { SshTarget } from '../../../lib/runner/index.js';
import { sandboxProbe, type Probe, type SandboxUpResult } from '../../../lib/sandbox/index.js';
import { runMain } from '../../helpers/cli.js';
import { watchPorts } from '../../helpers/outside-probe.js';
import { e2eName, e2eOsesFirst, freshSandbox, type TestSandbox } from '../../helpers/sandbox.js';
import { sandboxInventoryYaml } from '../../helpers/sandbox-inventory.js';

// TLS and the health daemon are the other suites' business: without them a cold run here is quick.
const SKIP = ['--skip', 'tls', '--skip', 'daemon'];

for (const os of e2eOsesFirst()) describe(`converging a provisioned host without ever opening it (${os})`, { timeout: 900_000 }, () => {
  const NAME = e2eName('conv', os);
  let box: TestSandbox | undefined;
  let sb: SandboxUpResult;
  let probe: Probe;
  let dir: string;
  let inventory: string;
  let host: ResolvedHost;
  let secrets: HostSecrets;
  let shell: SshTarget | undefined;
  const sh = async (script: string) => {
    shell ??= await SshTarget.connect(connectionOf(host));
    return (await shell.script(script, { root: true, allowFailure: true })).stdout;
  };
  const provision = (...extra: string[]) => runMain(provisionMain, [NAME, '-i', inventory, ...SKIP, ...extra]);
  /** One TCP connect from the outsider's namespace: true when it was accepted. */
  const openFromOutside = async (port: number) => {
    const w = watchPorts(probe.namespace, sb.address, [port]);
    await new Promise((r) => setTimeout(r, 300));
    return ((await w.stop())[port]?.open ?? 0) > 0;
  };

  before(async () => {
    for (const v of ['CONV_JWT', 'CONV_ADMIN', 'CONV_TURN']) process.env[v] = randomBytes(32).toString('hex');
    box = await freshSandbox(NAME, os);
    sb = box.sb;
    probe = await sandboxProbe({ name: NAME });
    dir = mkdtempSync(join(tmpdir(), 'rtcops-conv-'));
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, sandboxInventoryYaml(NAME, os, sb, { secretsEnv: { jwtSecret: 'CONV_JWT', adminToken: 'CONV_ADMIN', turnSecret: 'CONV_TURN' }, acme: { directoryUrl: `https://${sb.hostAddress}:14000/dir` } }));
    host = loadInventory(inventory).hosts[NAME] as ResolvedHost;
    secrets = resolveSecrets(host, inventory);
  });
  after(async () => {
    shell?.close();
    await box?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('provisions, then --check finds nothing to do (exit 0); a listener on a closed port stands in for the app', async () => {
    const cold = await provision();
    assert.equal(cold.code, 0, `${cold.out}\n${cold.err}`);
    // Something listening that only the firewall keeps from outsiders (the app's port, before any deploy).
    await sh('systemd-run --quiet --unit=conv-listener python3 -m http.server 3000 --bind 0.0.0.0');
    const check = await provision('--check');
    assert.equal(check.code, 0, check.out);
    assert.match(check.out, /nothing to do/);
    assert.equal(await openFromOutside(3000), false, 'port 3000 is closed to outsiders');
    assert.equal((await sh('ls /etc/ufw | grep -c "\\.[0-9]\\{8\\}_[0-9]\\{6\\}$" || true')).trim(), '0', 'no ufw backup files left behind');
  });

  it('drift the host hides from its files is named, and --check exits 3: an iptables rule, a ufw rule, an sshd drop-in read first', async () => {
    await sh([
      'iptables -I INPUT 1 -p tcp --dport 9100 -j ACCEPT',
      'ufw allow 8080/tcp >/dev/null',
      'printf "PasswordAuthentication yes\\nPermitRootLogin yes\\n" > /etc/ssh/sshd_config.d/05-convenience.conf && systemctl reload ssh',
    ].join('\n'));
    assert.equal(await openFromOutside(9100), true, 'the hand-inserted rule opened node_exporter to everyone');
    const check = await provision('--check', '--diff');
    assert.equal(check.code, 3, `${check.out}\n${check.err}`);
    assert.match(check.out, /firewall: ufw rules edited by hand: extra allow tcp 8080 from any; the loaded rules differ from the plan: extra -A INPUT -p tcp -m tcp --dport 9100 -j ACCEPT/);
    assert.match(check.out, /^- -A INPUT -p tcp -m tcp --dport 9100 -j ACCEPT$/m, '--diff lists the rule');
    assert.match(check.out, /~ set aside \/etc\/ssh\/sshd_config\.d\/05-convenience\.conf \(it overrides the hardening: passwordauthentication yes, permitrootlogin yes\)/);
    assert.match(check.err, new RegExp(`\\[${NAME}\\] firewall would change \\(\\d+\\.\\d+s\\): 1 change\\(s\\) pending`), 'the progress line says what --check means');
  });

  it('the fix run restores the plan, and an outsider watching SSH and the app port never gets in while it runs', async () => {
    const watch = watchPorts(probe.namespace, sb.address, [22, 3000]);
    const fix = await provision();
    const seen = await watch.stop();
    assert.equal(fix.code, 0, `${fix.out}\n${fix.err}`);
    assert.ok((seen[22]?.attempts ?? 0) > 20 && (seen[3000]?.attempts ?? 0) > 20, `the watcher kept trying: ${JSON.stringify(seen)}`);
    assert.deepEqual([seen[22]?.open, seen[3000]?.open], [0, 0], `connections got through during the fix: ${JSON.stringify(seen)}`);
    assert.equal(await openFromOutside(9100), false, 'node_exporter is closed again');
    assert.equal(await openFromOutside(8080), false);
    assert.match(await sh('sshd -T | grep -E "^(passwordauthentication|permitrootlogin) "'), /^permitrootlogin no\npasswordauthentication no$|^passwordauthentication no\npermitrootlogin no$/m);
    assert.match(await sh('ls /var/backups/rtcops/sshd_config.d/'), /^05-convenience\.conf\.\d{8}T\d{6}Z$/m, 'the drop-in was kept, not deleted');
    assert.equal((await provision('--check')).code, 0);
  });

  it('the watcher does see a window when there is one (ufw disabled for a second by hand)', async () => {
    const watch = watchPorts(probe.namespace, sb.address, [3000]);
    await sh('ufw --force disable >/dev/null; sleep 1; ufw --force enable >/dev/null');
    const seen = await watch.stop();
    assert.ok((seen[3000]?.open ?? 0) > 0, `the watcher saw nothing: ${JSON.stringify(seen)}`);
    assert.equal((await provision()).code, 0);
  });

  it('a fail2ban ban survives a firewall fix: the address stays banned and blocked', async () => {
    await sh(`fail2ban-client set nginx-limit-req banip ${probe.address} >/dev/null`);
    try {
      assert.equal(await openFromOutside(80), false, 'the ban blocks port 80 for the banned address');
      await sh('ufw allow 8081/tcp >/dev/null');
      const fix = await provision();
      assert.equal(fix.code, 0, fix.out);
      assert.match(fix.out, /extra allow tcp 8081 from any/);
      assert.match(await sh('fail2ban-client status nginx-limit-req'), new RegExp(`Banned IP list:.*${probe.address.replaceAll('.', '\\.')}`));
      assert.equal(await openFromOutside(80), false, 'still blocked after provisioning');
    } finally {
      await sh(`fail2ban-client set nginx-limit-req unbanip ${probe.address} >/dev/null`);
    }
    assert.equal(await openFromOutside(80), true, 'port 80 itself is open to everyone once unbanned');
  });

  it('lockout paths: fail2ban\'s ignoreip from outside adminCidrs, and AllowGroups without the SSH user, are refused before any change', async () => {
    const jail = await sh('sha256sum /etc/fail2ban/jail.local');
    const outsider = await provisionHost({ ...host, adminCidrs: ['203.0.113.0/24'] }, secrets, { only: ['config'] });
    assert.equal(outsider.status, 'failed');
    assert.match(outsider.error ?? '', /refusing to apply SSH, firewall or fail2ban changes: this run connects from 10\.77\.\d+\.1, which is outside adminCidrs/);
    assert.equal(await sh('sha256sum /etc/fail2ban/jail.local'), jail, 'jail.local (ignoreip) untouched');

    const dropin = await sh('sha256sum /etc/ssh/sshd_config.d/10-rtcops-hardening.conf');
    const groups = await provisionHost({ ...host, sshd: { ...host.sshd, allowGroups: ['ssh-admins'] } }, secrets, { only: ['sshd'] });
    assert.equal(groups.status, 'failed');
    assert.match(groups.error ?? '', new RegExp(`sshd\\.allowGroups \\(ssh-admins\\) does not include a group of the SSH user ${sb.user} \\(`));
    assert.equal(await sh('sha256sum /etc/ssh/sshd_config.d/10-rtcops-hardening.conf'), dropin, 'the drop-in is untouched');
    assert.equal((await sh('systemctl list-timers --all | grep -c rtcops-revert || true')).trim(), '0', 'no revert was armed');
  });
});
