import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ResolvedHost } from '../../../lib/inventory/index.js';
import { exampleHost } from '../../fixtures/inventories/hosts.js';
import { rendered, run, tempDir, tool, writeFile } from './tools.js';

const SERVER_LOG = fileURLToPath(new URL('../../fixtures/server-log/', import.meta.url));
const SIGNALING_FILTER = fileURLToPath(new URL('../../../templates/fail2ban/filter.d/rtcops-signaling-auth.conf', import.meta.url));

/** Debian's fail2ban config copied to dir, with the rendered jail.local and filter; log files the jails read exist in dir. */
function confDir(dir: string, host: ResolvedHost): string {
  const conf = join(dir, 'fail2ban');
  cpSync('/etc/fail2ban', conf, { recursive: true });
  host.nginx.logDir = dir;
  host.app.outLog = join(dir, 'rtcops.out.log');
  host.fail2ban.authLog = join(dir, 'auth.log');
  for (const log of ['rtcops.error.log', 'rtcops.access.log', 'rtcops.out.log', 'auth.log']) writeFile(join(dir, log), '');
  for (const id of ['fail2ban-jail', 'fail2ban-filter-signaling-auth']) {
    const file = rendered(host, id);
    writeFile(join(conf, file.path.replace('/etc/fail2ban/', '')), file.content);
  }
  return conf;
}

async function fail2banClient(args: string[]) {
  tool('fail2ban-server', 'fail2ban');
  return run(tool('fail2ban-client', 'fail2ban'), args);
}

/** fail2ban-regex exits 0 whatever it matched: read the count and the addresses it found. */
async function regex(logOrLine: string, filter: string) {
  const { exitCode, output } = await run(tool('fail2ban-regex', 'fail2ban'), ['-v', '--no-check-all', logOrLine, filter]);
  assert.equal(exitCode, 0, output);
  const lines = /^Lines: (\d+) lines, \d+ ignored, (\d+) matched, (\d+) missed/m.exec(output);
  assert.ok(lines, `no "Lines:" summary in fail2ban-regex output:\n${output}`);
  const addresses = [...output.matchAll(/^\|\s{6}(\S+)\s+\w{3} \w{3} /gm)].map((m) => m[1]);
  return { total: Number(lines[1]), matched: Number(lines[2]), addresses, output };
}

describe('fail2ban jail.local: fail2ban-client -t accepts it', () => {
  const cases = [
    { name: 'Debian 12: sshd jail reads the journal', os: 'debian-12', sshd: ['add', 'sshd', 'systemd'] },
    { name: 'Ubuntu 22.04: sshd jail reads auth.log', os: 'ubuntu-22.04', sshd: ['add', 'sshd', 'auto'] },
  ] as const;
  for (const c of cases) {
    test(c.name, async (t) => {
      const host = exampleHost('sandbox');
      host.os = c.os;
      host.fail2ban.sshdBackend = c.os === 'debian-12' ? 'systemd' : 'auth.log';
      const conf = confDir(tempDir(t, 'f2b'), host);
      const check = await fail2banClient(['-c', conf, '-t']);
      assert.equal(check.exitCode, 0, check.output);
      assert.match(check.output, /OK: configuration test is successful/);

      const dump = (await fail2banClient(['-c', conf, '-d'])).output;
      assert.ok(dump.includes(JSON.stringify(c.sshd).replaceAll('"', "'").replaceAll(',', ', ')), dump.slice(0, 2000));
      for (const jail of ['nginx-limit-req', 'nginx-botsearch', 'rtcops-signaling-auth']) assert.match(dump, new RegExp(`\\['add', '${jail}', 'auto'\\]`));
      assert.ok(dump.includes(`['set', 'rtcops-signaling-auth', 'addlogpath', '${host.app.outLog}', 'head']`), 'the signaling jail reads the PM2 out_file');
      assert.ok(dump.includes(`['set', 'rtcops-signaling-auth', 'maxretry', 10]`));
    });
  }

  test('a jail whose log file is missing fails the check (the check can fail)', async (t) => {
    const host = exampleHost('sandbox');
    const conf = confDir(tempDir(t, 'f2b'), host);
    const file = rendered({ ...host, app: { ...host.app, outLog: '/nonexistent/rtcops.out.log' } }, 'fail2ban-jail');
    writeFile(join(conf, 'jail.local'), file.content);
    const check = await fail2banClient(['-c', conf, '-t']);
    assert.notEqual(check.exitCode, 0);
    assert.match(check.output, /Have not found any log file for rtcops-signaling-auth jail/);
  });
});

describe('fail2ban filters: fail2ban-regex matches attacks and nothing else', () => {
  test('signaling filter bans the address of every rejected token in the server log fixture', async () => {
    const result = await regex(join(SERVER_LOG, 'auth-rejected.log'), SIGNALING_FILTER);
    assert.equal(result.total, 5);
    assert.equal(result.matched, 5);
    assert.deepEqual(result.addresses, ['203.0.113.7', '203.0.113.7', '198.51.100.23', '2001:db8::42', '198.51.100.23']);
  });

  test('signaling filter ignores benign lines, including ones that quote a rejection inside a value', async () => {
    const result = await regex(join(SERVER_LOG, 'benign.log'), SIGNALING_FILTER);
    assert.equal(result.total, 4);
    assert.equal(result.matched, 0);
  });

  const stock = [
    {
      filter: 'nginx-limit-req',
      attack: '2026/11/22 20:00:00 [error] 1234#1234: *99 limiting requests, excess: 20.500 by zone "rtcops_requests", client: 203.0.113.50, server: rtc.sandbox.test, request: "GET /signaling HTTP/1.1", host: "rtc.sandbox.test"',
      benign: '2026/11/22 20:00:00 [error] 1234#1234: *98 connect() failed (111: Connection refused) while connecting to upstream, client: 203.0.113.51, server: rtc.sandbox.test, request: "GET /healthz HTTP/1.1", upstream: "http://127.0.0.1:3000/healthz", host: "rtc.sandbox.test"',
    },
    {
      filter: 'nginx-botsearch',
      attack: '203.0.113.60 - - [22/Nov/2026:20:00:00 +0000] "GET /wp-login.php HTTP/1.1" 404 153 "-" "Mozilla/5.0"',
      benign: '203.0.113.61 - - [22/Nov/2026:20:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "curl/8"',
    },
    {
      filter: 'sshd',
      attack: 'Nov 22 20:00:00 rtc-1 sshd[555]: Failed publickey for invalid user admin from 203.0.113.70 port 51000 ssh2: ED25519 SHA256:abc',
      benign: 'Nov 22 20:00:00 rtc-1 sshd[556]: Accepted publickey for rtcops from 10.77.0.1 port 51001 ssh2: ED25519 SHA256:abc',
    },
  ];
  for (const c of stock) {
    test(`${c.filter}: one attack line matches, one benign line does not`, async () => {
      const filter = `/etc/fail2ban/filter.d/${c.filter}.conf`;
      const attack = await regex(c.attack, filter);
      assert.equal(attack.matched, 1, attack.output);
      const benign = await regex(c.benign, filter);
      assert.equal(benign.matched, 0, benign.output);
    });
  }
});

describe('fail2ban-server with the rendered jails bans an address that keeps sending rejected tokens', () => {
  test('10 rejections ban the address; fewer, or from the admin network, do not', async (t) => {
    const dir = tempDir(t, 'f2b-server');
    const host = exampleHost('sandbox');
    const conf = confDir(dir, host);
    // Test-only overrides: no journal here for sshd, and the ban is recorded in a file instead of a ufw rule on this machine.
    writeFile(join(conf, 'fail2ban.local'), `[Definition]\nsocket = ${dir}/f2b.sock\npidfile = ${dir}/f2b.pid\ndbfile = :memory:\nlogtarget = ${dir}/f2b.log\n`);
    writeFile(join(conf, 'jail.d/zz-test.local'), `[sshd]\nenabled = false\n\n[rtcops-signaling-auth]\naction = dummy[target="${dir}/bans"]\n`);
    const server = spawn(tool('fail2ban-server', 'fail2ban'), ['-f', '-x', '-c', conf], { stdio: 'ignore' });
    t.after(() => server.kill('SIGTERM'));
    const status = async () => (await run(tool('fail2ban-client', 'fail2ban'), ['-c', conf, 'status', 'rtcops-signaling-auth'])).output;
    for (let i = 0; i < 100 && !(await status()).includes('Currently banned'); i++) await sleep(100);
    assert.match(await status(), /Currently banned:\s+0/, readFileSync(join(dir, 'f2b.log'), 'utf8'));

    const line = (ip: string, reason: string) =>
      `${JSON.stringify({ level: 40, time: Date.now(), pid: 4242, hostname: 'rtc-1', event: 'auth_rejected', ip, reason, path: '/signaling', msg: 'signaling auth rejected' })}\n`;
    const reasons = ['missing', 'malformed', 'bad_signature', 'expired', 'alg_not_allowed', 'wrong_room', 'not_before'];
    for (let i = 0; i < 10; i++) {
      appendFileSync(host.app.outLog, line('203.0.113.7', reasons[i % reasons.length] ?? 'expired'));
      appendFileSync(host.app.outLog, line('10.77.0.1', 'expired'));
      if (i < 3) appendFileSync(host.app.outLog, line('198.51.100.23', 'expired'));
    }
    for (let i = 0; i < 100 && !(existsSync(join(dir, 'bans')) && readFileSync(join(dir, 'bans'), 'utf8').includes('+203.0.113.7')); i++) await sleep(100);

    const report = await status();
    assert.match(report, /Banned IP list:\s+203\.0\.113\.7\s*$/m, report);
    assert.match(report, /Total failed:\s+13/, 'the admin-network address is ignored, not counted');
    assert.deepEqual(readFileSync(join(dir, 'bans'), 'utf8').split('\n').filter((l) => l.startsWith('+')), ['+203.0.113.7']);
  });
});
