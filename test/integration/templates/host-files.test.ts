import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { renderHost } from '../../../lib/render/files.js';
import { exampleHost, fakeSecrets } from '../../fixtures/inventories/hosts.js';
import { rendered, run, tempDir, tool, writeFile } from './tools.js';

describe('PM2 ecosystem file: node loads it and PM2 gets what the server and fail2ban rely on', () => {
  test('sandbox', (t) => {
    const host = exampleHost('sandbox');
    const path = writeFile(join(tempDir(t, 'pm2'), 'ecosystem.config.cjs'), rendered(host, 'pm2-ecosystem').content);
    const { apps } = createRequire(import.meta.url)(path) as { apps: Record<string, unknown>[] };
    assert.deepEqual(apps.map((a) => a['name']), ['rtcops-a', 'rtcops-b'], 'one process per deploy slot');
    const app = apps[1] ?? {};
    const expected: [string, unknown][] = [
      ['name', 'rtcops-b'],
      ['script', '/srv/rtcops/slots/b/dist/server/main.js'],
      ['cwd', '/srv/rtcops/slots/b'],
      ['exec_mode', 'fork'],
      ['instances', 1],
      ['wait_ready', true],
      ['listen_timeout', 15000],
      ['kill_timeout', 35000],
      ['max_memory_restart', '1G'],
      ['node_args', ['--env-file=/srv/rtcops/shared/rtcops.env']],
      ['out_file', host.app.outLog],
      ['error_file', '/srv/rtcops/shared/logs/rtcops.error.log'],
      ['merge_logs', true],
      ['time', false],
    ];
    for (const [key, value] of expected) assert.deepEqual(app[key], value, key);
    assert.ok((app.kill_timeout as number) > host.app.drainTimeoutMs, 'PM2 waits longer than the server drains');
    assert.match(rendered(host, 'fail2ban-jail').content, new RegExp(`logpath = ${host.app.outLog}\\n`), 'fail2ban reads the file PM2 writes');
  });

  test('env holds the server settings and none of its secrets; each slot its own ports', (t) => {
    const host = exampleHost('prod');
    const path = writeFile(join(tempDir(t, 'pm2'), 'ecosystem.config.cjs'), rendered(host, 'pm2-ecosystem').content);
    const [a, b] = (createRequire(import.meta.url)(path) as { apps: { env: Record<string, string> }[] }).apps.map((x) => x.env);
    const ports = (e: Record<string, string> | undefined) => [e?.['PORT'], e?.['RTC_MIN_PORT'], e?.['RTC_MAX_PORT'], e?.['WEBRTC_SERVER_PORT']];
    assert.deepEqual([ports(a), ports(b)], [['3000', '40000', '44999', '44444'], ['3001', '45000', '49999', '44448']]);
    assert.deepEqual({ ...b, PORT: '3000', RTC_MIN_PORT: '40000', RTC_MAX_PORT: '44999', WEBRTC_SERVER_PORT: '44444' }, a, 'the rest is the same');
    const env = a;
    assert.deepEqual(env, {
      NODE_ENV: 'production',
      PORT: '3000',
      HOST: '127.0.0.1',
      LISTEN_IP: '0.0.0.0',
      ANNOUNCED_IP: '198.51.100.10',
      RTC_MIN_PORT: '40000',
      RTC_MAX_PORT: '44999',
      WEBRTC_SERVER_PORT: '44444',
      NUM_WORKERS: '4',
      TURN_URLS: 'turn:turn.example.com:3478?transport=udp,turn:turn.example.com:3478?transport=tcp,turns:turn.example.com:5349?transport=tcp,turns:turn.example.com:443?transport=tcp',
      TURN_TTL: '86400',
      DRAIN_TIMEOUT_MS: '60000',
      TRUST_PROXY: '1',
      LOG_LEVEL: 'info',
    });
  });
});

describe('env files: the readers get the exact secret values', () => {
  test('node --env-file reads the server env file', async (t) => {
    const host = exampleHost('sandbox');
    const file = rendered(host, 'server-env');
    assert.equal(file.secret, true);
    assert.equal(file.mode, '0600');
    const path = writeFile(join(tempDir(t, 'env'), 'rtcops.env'), file.content);
    const { exitCode, output } = await run(process.execPath, [`--env-file=${path}`, '-e', 'console.log(JSON.stringify([process.env.JWT_SECRET, process.env.ADMIN_TOKEN, process.env.TURN_SECRET]))'], { env: {} });
    assert.equal(exitCode, 0, output);
    assert.deepEqual(JSON.parse(output), ['test-jwt-secret-not-real-0000000000000000', 'test-admin-token-not-real-000000000000000', 'test-turn-secret-not-real-000000000000000']);
  });

  test('the health daemon env file holds its secrets (prod: admin token and Slack webhook)', () => {
    const file = rendered(exampleHost('prod'), 'health-daemon-env');
    assert.equal(file.secret, true);
    assert.match(file.content, /^ADMIN_TOKEN='test-admin-token-not-real-0+'$/m);
    assert.match(file.content, /^SLACK_WEBHOOK_URL='https:\/\/hooks\.slack\.invalid\/test-webhook-not-real'$/m);
  });
});

describe('system files: their readers accept them', () => {
  for (const name of ['sandbox', 'prod'] as const) {
    test(`${name}: apt-config parses unattended-upgrades for the host's OS`, async (t) => {
      const dir = tempDir(t, 'apt');
      const host = exampleHost(name);
      const unattended = writeFile(join(dir, '50unattended-upgrades'), rendered(host, 'unattended-upgrades').content);
      const auto = writeFile(join(dir, '20auto-upgrades'), rendered(host, 'auto-upgrades').content);
      const apt = tool('apt-config', 'apt');
      const u = await run(apt, ['-c', unattended, 'dump']);
      assert.equal(u.exitCode, 0, u.output);
      const origins = name === 'sandbox' ? /Origins-Pattern:: "origin=Debian,codename=\$\{distro_codename\}-security,label=Debian-Security"/ : /Allowed-Origins:: "\$\{distro_id\}:\$\{distro_codename\}-security"/;
      assert.match(u.output, origins);
      assert.match(u.output, /Unattended-Upgrade::Automatic-Reboot "false"/);
      const a = await run(apt, ['-c', auto, 'dump']);
      assert.equal(a.exitCode, 0, a.output);
      assert.match(a.output, /APT::Periodic::Unattended-Upgrade "1"/);
    });
  }

  // needrestart's own config (Debian's needrestart 3.6-4+deb12u4, test/fixtures/needrestart/) reads conf.d at its end;
  // the decision below is needrestart's loop over override_rc (first matching regex wins, else restart).
  test('needrestart (its shipped config, then the drop-in) leaves nginx, coturn, the app and the daemon running, and still restarts the rest', async (t) => {
    const host = exampleHost('prod');
    const file = rendered(host, 'needrestart');
    assert.equal(file.path, '/etc/needrestart/conf.d/50-rtcops.conf');
    const dir = tempDir(t, 'needrestart');
    writeFile(join(dir, 'conf.d', '50-rtcops.conf'), file.content);
    const main = writeFile(join(dir, 'needrestart.conf'), readFileSync(new URL('../../fixtures/needrestart/needrestart.conf', import.meta.url), 'utf8').replaceAll('/etc/needrestart/conf.d', join(dir, 'conf.d')));
    const units = ['nginx.service', 'coturn.service', `pm2-${host.app.user}.service`, `${host.app.name}-health.service`, 'ssh.service', 'fail2ban.service', 'prometheus-node-exporter.service', 'nginx-debug.service'];
    const script = `our %nrconf = (override_rc => {}); eval do { local $/; open my $fh, $ARGV[0] or die $!; <$fh> }; die "parse: $@" if $@;
      for my $rc (@ARGV[1..$#ARGV]) { my $restart = 1; for my $re (keys %{$nrconf{override_rc}}) { next unless $rc =~ /$re/; $restart = $nrconf{override_rc}->{$re}; last } print "$rc $restart\n" }`;
    const { exitCode, output } = await run(tool('perl', 'perl-base'), ['-e', script, main, ...units]);
    assert.equal(exitCode, 0, output);
    assert.deepEqual(Object.fromEntries(output.trim().split('\n').map((l) => l.split(' '))), {
      'nginx.service': '0', 'coturn.service': '0', [`pm2-${host.app.user}.service`]: '0', [`${host.app.name}-health.service`]: '0',
      'ssh.service': '1', 'fail2ban.service': '1', 'prometheus-node-exporter.service': '1', 'nginx-debug.service': '1',
    });
  });

  test('systemd-analyze verify accepts the health daemon unit', async (t) => {
    const file = rendered(exampleHost('sandbox'), 'health-daemon-unit');
    const path = writeFile(join(tempDir(t, 'unit'), 'rtcops-health.service'), file.content);
    const { exitCode, output } = await run(tool('systemd-analyze', 'systemd'), ['verify', path]);
    assert.equal(exitCode, 0, output);
    assert.equal(output.trim(), '');
    assert.match(file.content, /^User=rtcops$/m);
    assert.match(file.content, /^EnvironmentFile=\/srv\/rtcops\/shared\/rtcops-daemon\.env$/m);
  });

  test('sh -n accepts the certbot deploy hook', async (t) => {
    const file = rendered(exampleHost('sandbox'), 'certbot-deploy-hook');
    assert.equal(file.mode, '0755');
    const path = writeFile(join(tempDir(t, 'hook'), 'rtcops.sh'), file.content);
    const { exitCode, output } = await run(tool('sh', 'dash'), ['-n', path]);
    assert.equal(exitCode, 0, output);
    assert.match(file.content, /\*\/rtc\.sandbox\.test\) ;;/);
    assert.match(file.content, /systemctl kill --signal=SIGUSR2 coturn\.service/);
  });

  test('the health daemon config is JSON (test/unit/daemon/rendered-config.test.ts loads it with the daemon\'s loader)', () => {
    const config = JSON.parse(rendered(exampleHost('sandbox'), 'health-daemon-config').content) as { host: string; checks: { 'tls-expiry': { targets: { certFile: string }[] } } };
    assert.equal(config.host, 'sandbox');
    assert.equal(config.checks['tls-expiry'].targets[0]?.certFile, '/etc/letsencrypt/live/rtc.sandbox.test/fullchain.pem');
  });
});

describe('coturn log file rotation (turn.log: file)', () => {
  test('logrotate -d accepts the rendered config; with syslog there is none', async (t) => {
    const host = exampleHost('sandbox');
    assert.equal(renderHost(host, fakeSecrets(host)).files.some((f) => f.id === 'coturn-logrotate'), false);
    const dir = tempDir(t, 'logrotate');
    host.turn.log = 'file';
    host.turn.logFile = join(dir, 'turnserver.log');
    writeFile(host.turn.logFile, 'line\n');
    const file = rendered(host, 'coturn-logrotate');
    assert.equal(file.path, '/etc/logrotate.d/coturn');
    const conf = writeFile(join(dir, 'coturn'), file.content);
    const { exitCode, output } = await run(tool('logrotate', 'logrotate'), ['-d', '-s', join(dir, 'state'), conf]);
    assert.equal(exitCode, 0, output);
    assert.match(output, new RegExp(`considering log ${host.turn.logFile}`));
    assert.doesNotMatch(output, /error/i);
  });
});
