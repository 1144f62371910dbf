import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { loadInventory, mediaPorts, resolveSecrets, type HostSecrets, type ResolvedHost } from '../../../lib/inventory/index.js';
import { provisionMain } from '../../../lib/provision/command.js';
import { provisionHost, type HostReport } from '../../../lib/provision/engine.js';
import { renderHost } from '../../../lib/render/files.js';
import { sandboxProbe, type Probe, type SandboxUpResult } from '../../../lib/sandbox/index.js';
import { SshTarget } from '../../../lib/runner/index.js';
import { connectionOf, layoutOf } from '../../../lib/host/index.js';
import { runMain } from '../../helpers/cli.js';
import { e2eName, e2eOses, freshSandbox, type TestSandbox } from '../../helpers/sandbox.js';
import { sandboxInventoryYaml } from '../../helpers/sandbox-inventory.js';
import { startPebble, type TestAcme } from '../../helpers/pebble.js';
import { TurnCheck } from '../../../lib/checks/turn.js';
import { daemonConfigSchema } from '../../../lib/daemon-config.js';
import { daemonConfig } from '../../../lib/render/index.js';
import { TurnClient } from '../../../lib/turn/client.js';
import { mintTurnCredentials } from '../../../lib/turn/credentials.js';

const run = promisify(execFile);

async function provisionJson(name: string, inventory: string): Promise<{ code: number; report: HostReport; stderr: string }> {
  const { code, out, err } = await runMain(provisionMain, [name, '-i', inventory, '--json']);
  const parsed = JSON.parse(out) as { hosts: HostReport[] };
  return { code, report: parsed.hosts[0] as HostReport, stderr: err };
}

/** TCP connect from inside a network namespace: true when something accepted within a second. */
async function tcpOpen(ns: string | undefined, address: string, port: number): Promise<boolean> {
  const cmd = ['timeout', '2', 'bash', '-c', `exec 3<>/dev/tcp/${address}/${port}`];
  try {
    await run(ns === undefined ? cmd[0]! : 'ip', ns === undefined ? cmd.slice(1) : ['netns', 'exec', ns, ...cmd]);
    return true;
  } catch {
    return false;
  }
}

for (const os of e2eOses()) describe(`provisioning the sandbox host end to end (${os})`, { timeout: 900_000 }, () => {
  const NAME = e2eName('prov', os);
  let box: TestSandbox | undefined;
  let sb: SandboxUpResult;
  let probe: Probe;
  let dir: string;
  let inventory: string;
  let host: ResolvedHost;
  let secrets: HostSecrets;
  let acme: TestAcme;
  let shell: SshTarget | undefined;
  const sh = async (script: string) => {
    shell ??= await SshTarget.connect(connectionOf(host));
    return (await shell.script(script, { root: true, allowFailure: true })).stdout;
  };

  before(async () => {
    process.env['E2E_JWT_SECRET'] = randomBytes(32).toString('hex');
    process.env['E2E_ADMIN_TOKEN'] = randomBytes(32).toString('hex');
    process.env['E2E_TURN_SECRET'] = randomBytes(32).toString('hex');
    box = await freshSandbox(NAME, os);
    sb = box.sb;
    probe = await sandboxProbe({ name: NAME });
    acme = await startPebble(sb.hostAddress, sb.address);
    dir = mkdtempSync(join(tmpdir(), 'rtcops-e2e-'));
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(join(dir, 'pebble-root.pem'), await acme.issuerRoot());
    writeFileSync(inventory, sandboxInventoryYaml(NAME, os, sb, {
      secretsEnv: { jwtSecret: 'E2E_JWT_SECRET', adminToken: 'E2E_ADMIN_TOKEN', turnSecret: 'E2E_TURN_SECRET' },
      acme: { directoryUrl: acme.directoryUrl, caBundle: acme.caFile, issuerRoots: join(dir, 'pebble-root.pem') },
    }));
    host = loadInventory(inventory).hosts[NAME] as ResolvedHost;
    secrets = resolveSecrets(host, inventory);
  });
  after(async () => {
    shell?.close();
    await acme?.stop();
    await box?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a cold run provisions every step and exits 0', async () => {
    const { code, report, stderr } = await provisionJson(NAME, inventory);
    assert.equal(code, 0, `${report.error ?? ''}\n${stderr}`);
    assert.equal(report.status, 'changed');
    // services enables what the packages left disabled or stopped; Debian 13's packages leave nothing.
    const services = report.steps.find((s) => s.step === 'services')?.status;
    assert.ok(services === 'ok' || services === 'changed', `services: ${services}`);
    assert.deepEqual(report.steps.map((s) => [s.step, s.status]), [
      ['packages', 'changed'], ['app-user', 'changed'], ['runtime', 'changed'], ['config', 'changed'], ['sshd', 'changed'], ['firewall', 'changed'], ['relay-guard', 'changed'], ['services', services], ['tls', 'changed'], ['daemon', 'changed'],
    ]);
    assert.match(stderr, new RegExp(`\\[${NAME}\\] packages changed \\(\\d+\\.\\d+s\\)`), 'progress names host, step and time');
    const audit = await sh('tail -1 /var/log/rtcops/provision.log');
    assert.equal(JSON.parse(audit).status, 'changed');
    assert.ok(!audit.includes(process.env['E2E_TURN_SECRET']!), 'no secret in the audit log');
  });

  it('the firewall lets in exactly what is planned (checked from a non-admin namespace and the admin address)', async () => {
    assert.equal((await sh('ufw status | head -1')).trim(), 'Status: active');
    const fromOutside = async (port: number) => tcpOpen(probe.namespace, sb.address, port);
    assert.deepEqual(
      { http: await fromOutside(80), https: await fromOutside(443), turnTcp: await fromOutside(3478), ssh: await fromOutside(22), nodeExporter: await fromOutside(9100), app: await fromOutside(3000) },
      { http: true, https: true, turnTcp: true, ssh: false, nodeExporter: false, app: false },
    );
    assert.deepEqual({ ssh: await tcpOpen(undefined, sb.address, 22), nodeExporter: await tcpOpen(undefined, sb.address, 9100) }, { ssh: true, nodeExporter: true });
    const stun = await run('ip', ['netns', 'exec', probe.namespace, 'turnutils_stunclient', '-p', '3478', sb.address]);
    assert.match(stun.stdout, new RegExp(`UDP reflexive addr: ${probe.address.replaceAll('.', '\\.')}:\\d+`), 'coturn answers STUN on 3478/udp from outside');
  });

  it('node_exporter is private by itself: refused from outside, and from the admin address 401 without its password', async () => {
    assert.equal(await tcpOpen(probe.namespace, sb.address, host.nodeExporter.port), false, 'the firewall refuses it from outside');
    const url = `http://${sb.address}:${host.nodeExporter.port}/metrics`;
    const basic = (pass: string) => ({ authorization: `Basic ${Buffer.from(`prometheus:${pass}`).toString('base64')}` });
    const token = process.env['E2E_ADMIN_TOKEN']!;
    assert.deepEqual(
      [(await fetch(url)).status, (await fetch(url, { headers: basic(`${token}x`) })).status],
      [401, 401], 'no credentials, a wrong password',
    );
    const ok = await fetch(url, { headers: basic(token) });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /^node_load1 /m);
    assert.equal((await sh('stat -c "%a %U %G" /etc/prometheus/rtcops-node-exporter-web.yml')).trim(), '640 root prometheus');
    assert.equal((await sh(`grep -c ${token} /etc/prometheus/rtcops-node-exporter-web.yml /etc/default/prometheus-node-exporter || true`)).trim(), '/etc/prometheus/rtcops-node-exporter-web.yml:0\n/etc/default/prometheus-node-exporter:0', 'only the hash is on the host');
  });

  it('nginx serves HTTPS and coturn serves TLS with the certificate pebble issued, and HTTP redirects', async () => {
    const root = join(dir, 'pebble-root.pem');
    // 443 twice: nginx's router sends turn.sandbox.test to coturn (turn.tls443), the app's name to the site.
    for (const [port, name] of [[443, 'rtc.sandbox.test'], [5349, 'turn.sandbox.test'], [443, 'turn.sandbox.test']] as const) {
      const r = await run('ip', ['netns', 'exec', probe.namespace, 'sh', '-c',
        `openssl s_client -connect ${sb.address}:${port} -servername ${name} -CAfile ${root} -verify_hostname ${name} -verify_return_error </dev/null 2>&1`]).catch((e: { stdout: string }) => e);
      const out = (r as { stdout: string }).stdout;
      assert.match(out, /Verify return code: 0 \(ok\)/, `${name}:${port}: ${out.slice(-600)}`);
      assert.match(out, /issuer=CN = Pebble Intermediate CA/, `${name}:${port}`);
    }
    const redirect = await run('ip', ['netns', 'exec', probe.namespace, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '-H', 'Host: rtc.sandbox.test', `http://${sb.address}/signaling`]);
    assert.equal(redirect.stdout, 'https://rtc.sandbox.test/signaling'.replace(/^/, '301 '));
    assert.equal((await sh('systemctl is-active certbot.timer')).trim(), 'active');
    assert.match(await sh('stat -c "%G %a" "$(readlink -f /etc/letsencrypt/live/rtc.sandbox.test/privkey.pem)"'), /^turnserver 640/, 'coturn can read the key');
  });

  it('coturn answers an authenticated Allocate over UDP, TCP, TLS and TLS on 443 (pebble certificate) and refuses a private peer', async () => {
    const turn = new TurnCheck({
      host: sb.address, servername: host.turn.domain, port: host.turn.port, tlsPort: host.turn.tlsPort, transports: ['udp', 'tcp', 'tls'], tls443: true,
      secret: secrets.turnSecret.reveal(), caFile: join(dir, 'pebble-root.pem'), requestTimeoutMs: 3000,
      // The only peer coturn may relay to here is the guest itself (allowed-peer-ip = announced IP), which this test cannot listen on.
      peerIp: undefined, peerBindIp: sb.hostAddress, privatePeerIp: '192.168.1.10', rttWarnMs: 500,
    });
    const results = await turn.run();
    for (const t of ['udp', 'tcp', 'tls', 'tls-443']) {
      const r = results.find((x) => x.target === t);
      assert.equal(r?.status, 'ok', r?.message);
      assert.match(r?.message ?? '', /allocated.*private peers refused/);
    }
  });

  it('a TURN UDP relay to the host\'s own address reaches its media ports only (the relay guard, loaded at boot)', async () => {
    const { relayGuardUnit, relayGuardTable } = layoutOf(host);
    assert.equal((await sh(`systemctl is-enabled ${relayGuardUnit}; systemctl is-active ${relayGuardUnit}`)).trim(), 'enabled\nactive');
    assert.match(await sh(`nft list table inet ${relayGuardTable}`), /meta skuid \d+ udp sport \d+-\d+ fib daddr type local udp dport != \d+-\d+ meta mark set 0x52544f50[\s\S]*meta mark 0x52544f50 counter packets \d+ bytes \d+ drop/);
    const media = mediaPorts(host);
    const ports = [3000, media.max];
    // Listeners on the host's address for 5 s; what reached them lands in a file.
    const listen = `import socket,select,time\nss=[socket.socket(socket.AF_INET,socket.SOCK_DGRAM) for p in ${JSON.stringify(ports)}]\n[s.bind(('${sb.address}',p)) for s,p in zip(ss,${JSON.stringify(ports)})]\ngot=set();end=time.time()+5\nwhile time.time()<end:\n  r,_,_=select.select(ss,[],[],0.2)\n  [got.add(s.getsockname()[1]) or s.recv(100) for s in r]\nopen('/tmp/relay-guard-got','w').write(' '.join(map(str,sorted(got))))\n`;
    await sh(`rm -f /tmp/relay-guard-got; echo ${Buffer.from(listen).toString('base64')} | base64 -d > /tmp/relay-guard-listen.py; setsid python3 /tmp/relay-guard-listen.py >/dev/null 2>&1 < /dev/null &`);
    await new Promise((r) => setTimeout(r, 500));
    const { username, password } = mintTurnCredentials(secrets.turnSecret.reveal(), 'e2e', 600);
    const turn = await TurnClient.connect({ transport: 'udp', host: sb.address, port: host.turn.port, timeoutMs: 3000 });
    await turn.allocate(username, password);
    await turn.createPermission(sb.address);
    for (let i = 0; i < 3; i++) for (const port of ports) turn.send({ ip: sb.address, port }, Buffer.from(`probe ${port}`));
    await turn.close();
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal((await sh('cat /tmp/relay-guard-got')).trim(), String(media.max), 'the media port got the datagrams, the app port none');
  });

  it('the installed health daemon\'s own checks pass on the host: TLS chain (the ACME roots installed), TURN with a relayed round trip, services', async () => {
    const out = await sh([
      'set -a; . /srv/rtcops/shared/rtcops-daemon.env; set +a',
      'node /srv/rtcops/daemon/dist/daemon/main.js --config /srv/rtcops/shared/rtcops-daemon.json --once --json --only tls-expiry,turn,services,disk',
    ].join('\n'));
    const results = (JSON.parse(out) as { results: { check: string; target: string; status: string; message: string }[] }).results;
    const bad = results.filter((r) => r.status !== 'ok');
    assert.deepEqual(bad, [], JSON.stringify(bad, null, 2));
    assert.deepEqual([...new Set(results.map((r) => r.check))].sort(), ['disk', 'services', 'tls-expiry', 'turn']);
    for (const t of ['udp', 'tcp', 'tls', 'tls-443']) assert.match(results.find((r) => r.check === 'turn' && r.target === t)?.message ?? '', /relayed data in [\d.]+ ms, private peers refused/, t);
    assert.ok(results.some((r) => r.check === 'tls-expiry' && r.target === 'turn.sandbox.test:443'), 'the certificate behind the 443 router is watched too');
    assert.equal((await sh('systemctl is-active rtcops-health.service')).trim(), 'active');
    // The running daemon's own TURN check, through the relay guard to its echo port (daemon.turnEchoPort): its latest results.
    const { port } = daemonConfigSchema.parse(daemonConfig(host)).listen;
    const turnTargets = ['turn/udp', 'turn/tcp', 'turn/tls', 'turn/tls-443'];
    let checks: Record<string, { status: string }> = {};
    for (let i = 0; i < 70 && !turnTargets.every((t) => t in checks); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000));
      checks = (JSON.parse(await sh(`curl -s http://127.0.0.1:${port}/healthz`)) as { checks: typeof checks }).checks;
    }
    assert.deepEqual(turnTargets.map((t) => [t, checks[t]?.status === 'warn' ? 'ok' : checks[t]?.status]), turnTargets.map((t) => [t, 'ok']), `the running daemon's TURN check (a warning is a slow STUN round trip): ${JSON.stringify(checks)}`);
  });

  it('sshd refuses passwords and root; fail2ban runs its jails; services are up', async () => {
    const effective = await sh('sshd -T | grep -E "^(passwordauthentication|permitrootlogin|kbdinteractiveauthentication|allowusers) "');
    assert.match(effective, /^passwordauthentication no$/m);
    assert.match(effective, /^permitrootlogin no$/m);
    assert.match(effective, /^allowusers rtcops$/m);
    const passwordTry = await run('ssh', ['-o', 'BatchMode=yes', '-o', 'PubkeyAuthentication=no', '-o', `UserKnownHostsFile=${sb.knownHostsPath}`, '-o', 'ConnectTimeout=5', `root@${sb.address}`, 'true']).catch((e: { stderr: string }) => e);
    assert.match((passwordTry as { stderr: string }).stderr, /Permission denied \(publickey\)/);
    const jails = await sh('fail2ban-client status | sed -n "s/.*Jail list:\\s*//p"');
    assert.deepEqual(jails.split(',').map((j) => j.trim()).sort(), ['nginx-botsearch', 'nginx-limit-req', 'rtcops-signaling-auth', 'sshd']);
    assert.equal((await sh('systemctl is-active nginx coturn fail2ban prometheus-node-exporter rtcops-health | sort -u')).trim(), 'active');
  });

  it('Node.js from the uploaded official binaries, PM2 under systemd for the app user, pm2-logrotate configured', async () => {
    assert.equal((await sh('node --version')).trim(), `v${host.node.version}`);
    assert.equal((await sh('systemctl is-enabled pm2-rtcops; systemctl is-active pm2-rtcops')).trim(), 'enabled\nactive');
    const list = JSON.parse(await sh('runuser -u rtcops -- env HOME=/home/rtcops PM2_HOME=/home/rtcops/.pm2 pm2 jlist')) as { name: string; pm2_env: { status: string } }[];
    assert.deepEqual(list.map((p) => [p.name, p.pm2_env.status]), [['pm2-logrotate', 'online']]);
    const conf = JSON.parse(await sh('cat /home/rtcops/.pm2/module_conf.json')) as Record<string, Record<string, unknown>>;
    assert.equal(conf['pm2-logrotate']?.['max_size'], host.pm2.logMaxSize);
    assert.equal(String(conf['pm2-logrotate']?.['retain']), String(host.pm2.logRetain));
    // PM2 starts its modules itself when its daemon starts (as at boot).
    await sh('systemctl restart pm2-rtcops');
    const after = JSON.parse(await sh('sleep 1; runuser -u rtcops -- env HOME=/home/rtcops PM2_HOME=/home/rtcops/.pm2 pm2 jlist')) as typeof list;
    assert.deepEqual(after.map((p) => [p.name, p.pm2_env.status]), [['pm2-logrotate', 'online']], 'pm2-logrotate comes back when PM2 restarts');
  });

  it('a second run changes nothing and says so', async () => {
    const { code, report } = await provisionJson(NAME, inventory);
    assert.equal(code, 0);
    assert.equal(report.status, 'ok', JSON.stringify(report.steps.filter((x) => x.status !== 'ok')));
    assert.ok(report.steps.every((s) => s.status === 'ok' && s.changes.length === 0), JSON.stringify(report.steps));
    assert.deepEqual(report.handlers, []);
  });

  it('drift: a hand-edited file is reported and restored, and only its service reloaded', async () => {
    await sh('echo "# edited by hand" >> /etc/fail2ban/jail.local');
    const { report } = await provisionJson(NAME, inventory);
    assert.deepEqual(report.steps.flatMap((s) => s.changes), ['update /etc/fail2ban/jail.local']);
    assert.deepEqual(report.handlers, ['restart fail2ban']);
    assert.ok(!(await sh('cat /etc/fail2ban/jail.local')).includes('edited by hand'));
  });

  it('lockout guard: an sshd drop-in that would lock us out is reverted and the host stays reachable', async () => {
    const before = await sh(`sha256sum /etc/ssh/sshd_config.d/10-rtcops-hardening.conf`);
    const locked: ResolvedHost = { ...host, sshd: { ...host.sshd, allowUsers: ['nobody'] } };
    const report = await provisionHost(locked, secrets, { only: ['sshd'] });
    assert.equal(report.status, 'failed');
    assert.match(report.error ?? '', /a new SSH connection failed after the change .*; it was reverted/);
    assert.equal(await sh(`sha256sum /etc/ssh/sshd_config.d/10-rtcops-hardening.conf`), before, 'the previous drop-in is back');
    assert.equal((await sh('echo still-here')).trim(), 'still-here');
    assert.equal((await sh('systemctl list-timers --all | grep -c rtcops-revert || true')).trim(), '0', 'the revert timer was disarmed');
  });

  it('lockout guard: a firewall plan that excludes our own address is refused before anything changes', async () => {
    const before = await sh('cat /var/lib/rtcops/firewall/state.json; sha256sum /etc/ufw/user.rules');
    const outsider: ResolvedHost = { ...host, adminCidrs: ['203.0.113.0/24'] };
    const report = await provisionHost(outsider, secrets, { only: ['firewall'] });
    assert.equal(report.status, 'failed');
    assert.match(report.error ?? '', /connects from 10\.77\.\d+\.1, which is outside adminCidrs \(203\.0\.113\.0\/24\)/);
    assert.equal(await sh('cat /var/lib/rtcops/firewall/state.json; sha256sum /etc/ufw/user.rules'), before);
  });

  it('--check shows the plan and changes nothing; --diff shows non-secret diffs only', async () => {
    await sh('echo "# drift-marker" >> /etc/fail2ban/jail.local; echo "# drift" >> /etc/turnserver.conf');
    let out = '';
    const code = await provisionMain([NAME, '-i', inventory, '--check', '--diff'], { out: (t) => { out += t; }, err: () => undefined });
    assert.equal(code, 3, 'changes pending');
    assert.match(out, /~ update \/etc\/fail2ban\/jail\.local/);
    assert.match(out, /~ update \/etc\/turnserver\.conf/);
    assert.match(out, /^-# drift-marker$/m);
    assert.match(out, /secret-bearing file \/etc\/turnserver\.conf: diff not shown/);
    assert.ok(!out.includes(process.env['E2E_TURN_SECRET']!));
    assert.equal((await sh('grep -c "drift-marker" /etc/fail2ban/jail.local')).trim(), '1', 'check mode changed nothing');
    assert.equal(renderHost(host, secrets).files.length > 0, true);
  });
  it('fail2ban bans an address after failed SSH logins, in its own nftables table (port 22 opened to the probe for this test only)', async () => {
    // The probe namespace is neither an admin address nor the host's own (fail2ban ignores both).
    const allow = `proto tcp from ${probe.address} to any port 22`;
    await sh(`ufw insert 1 allow ${allow} >/dev/null`);
    try {
      const ssh = ['ssh', '-o', 'BatchMode=yes', '-o', 'PubkeyAuthentication=no', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=3', `root@${sb.address}`, 'true'];
      // Each attempt has a hard deadline: the ban can land while an attempt is mid-handshake, and that connection's
      // packets are then dropped; ssh would wait for TCP to give up (~15 min: the suite timed out that way in CI).
      for (let i = 0; i <= host.fail2ban.maxRetry; i++) await run('ip', ['netns', 'exec', probe.namespace, 'timeout', '10', ...ssh]).catch(() => undefined);
      // fail2ban lists the ban first and runs its nftables action after it: wait for the set element.
      const inSet = new RegExp(`elements = \\{[^}]*${probe.address.replaceAll('.', '\\.')}`);
      let status = '';
      for (let i = 0; i < 60 && !inSet.test(status); i++) {
        status = `${await sh('fail2ban-client status sshd')}\n${await sh('nft list set inet f2b-table addr-set-sshd')}`;
        if (!inSet.test(status)) await new Promise((r) => setTimeout(r, 250));
      }
      assert.match(status, new RegExp(`Banned IP list:.*${probe.address.replaceAll('.', '\\.')}`), `${status}\nsshd's journal: ${await sh('journalctl _SYSTEMD_UNIT=ssh.service -n 8 --no-pager -o cat | grep -v sudo')}`);
      assert.match(status, inSet, 'fail2ban put the banned address in its nftables set');
      assert.doesNotMatch(await sh('ufw status'), new RegExp(`(DENY|REJECT)( IN)? +${probe.address.replaceAll('.', '\\.')}`), 'no ban in ufw\'s rules');
      assert.equal(await tcpOpen(probe.namespace, sb.address, 22), false, 'the banned address cannot reach sshd any more');
    } finally {
      await sh(`fail2ban-client set sshd unbanip ${probe.address} >/dev/null; ufw delete allow ${allow} >/dev/null`);
    }
  });
});
