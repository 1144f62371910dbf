import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { loadInventory, selectHost } from '../../../lib/inventory/index.js';
import { daemonBundle } from '../../../lib/provision/artifacts.js';
import { daemonConfig } from '../../../lib/render/index.js';
import type { CheckResult } from '../../../lib/checks/result.js';
import { TestCa, days } from '../../helpers/certs.js';
import { startCoturn, type Coturn } from '../../helpers/coturn.js';
import { freePort } from '../../helpers/process.js';
import { ADMIN_TOKEN, JWT_SECRET, TURN_SECRET, startTestServer, type TestServer } from '../../helpers/server.js';
import { startSshd, type TestSshd } from '../../helpers/sshd.js';
import { startTlsFront } from '../../helpers/tls-front.js';
import { REPO } from '../../fixtures/inventories/hosts.js';
import { AlertReceiver } from '../../helpers/receiver.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-check-script-'));
const SECRETS = { RTCOPS_LOOP_JWT_SECRET: JWT_SECRET, RTCOPS_LOOP_ADMIN_TOKEN: ADMIN_TOKEN, RTCOPS_LOOP_TURN_SECRET: TURN_SECRET };

describe('npx zx scripts/check.mjs: every check once, against real components on loopback', () => {
  let s: TestServer;
  let coturn: Coturn;
  let sshd: TestSshd;
  let front: Server;
  let httpsPort: number;
  let caFile: string;
  let inventory: string;
  let rx: AlertReceiver | undefined;
  let cert: ReturnType<TestCa['issue']>;

  const run = async (args: string[], env: Record<string, string> = SECRETS) => {
    const r = await execa(join(REPO, 'node_modules/.bin/zx'), ['scripts/check.mjs', ...args], {
      cwd: REPO, env: { PATH: process.env['PATH'] ?? '', HOME: dir, ...env }, extendEnv: false, reject: false, timeout: 60_000,
    });
    return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const common = () => ['loop', '-i', inventory, '--probe-direct', '--ca-file', caFile, '--https-port', String(httpsPort)];
  const byKey = (results: CheckResult[]) => Object.fromEntries(results.map((r) => [`${r.check} ${r.target}`, r]));

  before(async () => {
    s = await startTestServer({ ANNOUNCED_IP: '127.0.0.1' });
    const ca = TestCa.create(join(dir, 'ca'));
    caFile = ca.certFile;
    cert = ca.issue('host', ['rtc.rtcops.test', 'turn.rtcops.test'], days(-1), days(60));
    coturn = await startCoturn({ dir, secret: TURN_SECRET, cert: cert.fullchainFile, key: cert.keyFile });
    httpsPort = await freePort();
    front = await startTlsFront(httpsPort, cert, s.port);
    // The operator's SSH lands in a session whose PATH has this Node.js, as /usr/local/bin/node is on a host.
    sshd = await startSshd(`SetEnv PATH=${dirname(process.execPath)}:/usr/bin:/bin`);
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, [
      // The fixed ranges stay below 20000: the real ports here are ephemeral (32768-60999) and coturn's
      // relay range is 20000+, so the inventory's overlap check can never trip on a random port.
      'hosts:',
      '  loop:',
      '    os: debian-12',
      '    adminCidrs: [127.0.0.1/32]',
      `    ssh: { address: 127.0.0.1, port: ${sshd.port}, user: root, keyPath: ${sshd.keyPath}, knownHostsFile: ${sshd.knownHostsFile} }`,
      `    app: { domains: [rtc.rtcops.test], user: root, root: ${join(dir, 'app')}, port: ${s.port} }`,
      '    mediasoup: { announcedIp: 127.0.0.1, rtcPorts: { min: 10000, max: 10099 } }',
      `    turn: { domain: turn.rtcops.test, port: ${coturn.port}, tlsPort: ${coturn.tlsPort}, relayPorts: { min: 10100, max: 10199 } }`,
      '    acme: { email: ops@rtcops.test }',
      // A busy 2-core test machine must not make the run critical.
      '    daemon: { diskPercent: 99, cpuPercent: 99, memoryPercent: 99 }',
      '    secrets: { jwtSecret: { env: RTCOPS_LOOP_JWT_SECRET }, adminToken: { env: RTCOPS_LOOP_ADMIN_TOKEN }, turnSecret: { env: RTCOPS_LOOP_TURN_SECRET } }',
      '',
    ].join('\n'));
    // "Installed" as provisioning does it: the daemon bundle beside a package.json, the rendered config.
    const host = selectHost(loadInventory(inventory), 'loop');
    process.env['RTCOPS_ARTIFACT_CACHE'] = join(dir, 'artifacts');
    mkdirSync(join(host.app.daemonDir, 'dist/daemon'), { recursive: true });
    copyFileSync((await daemonBundle()).file, join(host.app.daemonDir, 'dist/daemon/main.js'));
    writeFileSync(join(host.app.daemonDir, 'package.json'), '{"type":"module","private":true}\n');
    mkdirSync(dirname(host.app.daemonConfigFile), { recursive: true });
    writeFileSync(host.app.daemonConfigFile, JSON.stringify(daemonConfig(host), null, 2));
  });
  after(async () => {
    await rx?.down();
    front?.close();
    await sshd?.stop();
    await coturn?.stop();
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a healthy host: TLS ×2, TURN ×3 and the public IP, the server through the TLS front, real calls, and the host\'s own checks over SSH', async () => {
    const { code, stdout, stderr } = await run([...common(), '--json']);
    const report = JSON.parse(stdout) as { ok: boolean; host: string; results: CheckResult[] };
    for (const r of report.results) console.log(`# ${r.status.padEnd(8)} ${r.check} ${r.target}: ${r.message}`);
    const r = byKey(report.results);
    const ok = ['tls-expiry rtc.rtcops.test:' + httpsPort, `tls-expiry turn.rtcops.test:${coturn.tlsPort}`, 'turn udp', 'turn tcp', 'turn tls', 'turn public-ip',
      `server https://rtc.rtcops.test:${httpsPort}`, 'media-probe direct', 'media-probe relay:udp', 'media-probe relay:tcp', 'media-probe relay:tls', 'disk /'];
    for (const k of ok) assert.equal(r[k]?.status, 'ok', `${k}: ${r[k]?.message ?? 'missing'}\n${stderr}`);
    // Run by the installed daemon on the "host" (the sshd's namespace has no systemd and this machine no PM2): said so.
    assert.equal(r['services nginx.service']?.status, 'skipped');
    assert.match(r['services nginx.service']?.message ?? '', /not applicable: systemd is not running/);
    assert.match(r['pm2 rtcops']?.message ?? '', /not applicable: pm2 is not installed/);
    assert.deepEqual(['memory', 'cpu', 'load'].map((t) => r[`system ${t}`]?.check), ['system', 'system', 'system']);
    // The test's coturn allows loopback peers (TEST-ONLY, for the relayed round trip): turn-peers sees it.
    assert.equal(r['turn-peers udp']?.status, 'critical');
    assert.match(r['turn-peers udp']?.message ?? '', /coturn grants relays to 127\.0\.0\.1 \(loopback\)/);
    assert.equal(code, report.results.some((x) => x.status === 'critical') ? 1 : 0);
    assert.equal(report.ok, code === 0);
  });

  it('the table: status, check, target, time, key values, message, and a summary line', async () => {
    const { code, stdout } = await run([...common(), '--only', 'tls-expiry,turn']);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^STATUS\s+CHECK\s+TARGET\s+TIME\s+VALUES\s+MESSAGE$/m);
    assert.match(stdout, /^OK\s+tls-expiry\s+rtc\.rtcops\.test:\d+\s+\d+ ms\s+daysLeft=\d+ chainValid=true hostnameMatches=true\s+certificate valid for \d+ more days/m);
    assert.match(stdout, /^OK\s+turn\s+udp\s+\d+ ms\s+rttMs=[\d.]+ allocateMs=\d+\s+TURN over UDP 127\.0\.0\.1:\d+: allocated, no relay peer configured, private peers refused$/m);
    assert.match(stdout, /^loop: 6 ok, 0 warn, 0 critical, 0 skipped in [\d.]+ s$/m);
  });

  it('--watch: the outside checks every interval through the alert state machine: nginx unreachable from outside → one alert naming the host (outside), one resolution once it answers', async () => {
    rx = await AlertReceiver.start();
    const watched = join(dir, 'watched.yaml');
    const text = (await import('node:fs')).readFileSync(inventory, 'utf8')
      .replace("    acme: { email: ops@rtcops.test }", "    acme: { email: ops@rtcops.test }\n    alerts: { slack: true, plainHttpTo: [127.0.0.0/8] }")
      .replace('turnSecret: { env: RTCOPS_LOOP_TURN_SECRET } }', 'turnSecret: { env: RTCOPS_LOOP_TURN_SECRET }, slackWebhookUrl: { env: RTCOPS_LOOP_SLACK } }');
    writeFileSync(watched, text);
    const env = { ...SECRETS, RTCOPS_LOOP_SLACK: rx.url };
    const watch = (rounds: number) => run(['loop', '-i', watched, '--probe-direct', '--ca-file', caFile, '--https-port', String(httpsPort), '--watch', '--interval', '1', '--rounds', String(rounds), '--only', 'server'], env);
    // What a firewall in front of nginx does to callers: nothing answers on 443.
    await new Promise((r) => front.close(r));
    const blocked = await watch(4);
    front = await startTlsFront(httpsPort, cert, s.port);
    assert.equal(blocked.code, 1, blocked.stderr);
    assert.match(blocked.stderr, /watching loop from outside every 1 s \(server\)/);
    assert.equal(blocked.stdout.trim().split('\n').length, 4, 'one line per round');
    assert.match(blocked.stdout, /round 4: loop: 0 ok, 0 warn, 1 critical, 0 skipped in [\d.]+ s: server https:\/\/rtc\.rtcops\.test:\d+/);
    const back = await watch(2);
    assert.equal(back.code, 0, back.stdout);
    assert.deepEqual(rx.received.map((r) => String(r.body['text']).replace(/^:\w+: /, '')), [
      `CRITICAL server on loop (outside) (https://rtc.rtcops.test:${httpsPort})`,
      `RESOLVED server on loop (outside) (https://rtc.rtcops.test:${httpsPort})`,
    ]);
  });

  it('--no-ssh: the host\'s own checks are listed as skipped, never pretended', async () => {
    const { code, stdout } = await run([...common(), '--only', 'disk,pm2', '--no-ssh']);
    assert.equal(code, 0);
    assert.match(stdout, /^N\/A\s+disk\s+loop\s+.*skipped: runs on the host \(over SSH; --no-ssh was given\)$/m);
    assert.match(stdout, /^N\/A\s+pm2\s+loop\s+/m);
  });

  it('a TURN secret that differs from coturn\'s: exit 1, critical on every transport, naming the fix', async () => {
    const { code, stdout } = await run([...common(), '--only', 'turn', '--json'], { ...SECRETS, RTCOPS_LOOP_TURN_SECRET: `other-${TURN_SECRET}` });
    assert.equal(code, 1);
    const r = byKey((JSON.parse(stdout) as { results: CheckResult[] }).results);
    for (const t of ['udp', 'tcp', 'tls']) {
      assert.equal(r[`turn ${t}`]?.status, 'critical');
      assert.match(r[`turn ${t}`]?.message ?? '', /TURN_SECRET does not match coturn's static-auth-secret/);
    }
  });

  it('the daemon not installed on the host: its checks are skipped with the command that installs it', async () => {
    const daemonDir = join(dir, 'app/daemon');
    renameSync(daemonDir, `${daemonDir}.away`);
    try {
      const { code, stdout } = await run([...common(), '--only', 'disk']);
      assert.equal(code, 0);
      assert.match(stdout, /^N\/A\s+disk\s+loop\s+.*skipped: the health daemon is not installed on loop \(npx zx scripts\/provision\.mjs loop\)$/m);
    } finally {
      renameSync(`${daemonDir}.away`, daemonDir);
    }
  });

  const usage: [string, string[], Record<string, string> | undefined, RegExp][] = [
    ['an unknown check', ['--only', 'dns'], undefined, /--only: unknown check dns; checks are: tls-expiry, turn, turn-peers, server, media-probe, disk, system, pm2, services/],
    ['an unknown host', ['nope'], undefined, /no host "nope"/],
    ['a missing secret', [], { RTCOPS_LOOP_JWT_SECRET: JWT_SECRET, RTCOPS_LOOP_ADMIN_TOKEN: ADMIN_TOKEN }, /RTCOPS_LOOP_TURN_SECRET/],
  ];
  for (const [name, args, env, message] of usage) {
    it(`exit 2 for ${name}, naming the fix`, async () => {
      const argv = args[0] === 'nope' ? ['nope', '-i', inventory] : [...common(), ...args];
      const { code, stdout, stderr } = await run(argv, env);
      assert.equal(code, 2, stdout);
      assert.match(stderr, message);
    });
  }
});
