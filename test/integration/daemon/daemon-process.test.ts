import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../helpers/process.js';
import { AlertReceiver } from '../../helpers/receiver.js';
import { ADMIN_TOKEN, JWT_SECRET, startTestServer, type TestServer } from '../../helpers/server.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rtcops-daemon-'));

interface Daemon { child: ChildProcess; out: () => string; exited: Promise<number | null> }

function spawnDaemon(args: string[], env: Record<string, string>): Daemon {
  const child = spawn(process.execPath, ['--import', 'tsx', 'daemon/main.ts', ...args], { cwd: root, env: { PATH: process.env['PATH'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  return { child, out: () => out, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve().then(f).catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the daemon process: config errors', () => {
  const cases: [string, unknown, Record<string, string>, RegExp][] = [
    ['unknown key', { host: 'h', stateFile: '/tmp/x', checks: {}, colour: 'red' }, {}, /\(top level\): Unrecognized key: "colour"/],
    ['missing secrets', { host: 'h', stateFile: '/tmp/x', alerting: { slack: true }, checks: { server: { url: 'http://127.0.0.1:1', signalingUrl: 'ws://127.0.0.1:1/signaling' } } }, {}, /JWT_SECRET is not set \(.*\): add it to the daemon's EnvironmentFile[\s\S]*ADMIN_TOKEN is not set[\s\S]*SLACK_WEBHOOK_URL is not set \(alerting.slack is on\)/],
  ];
  for (const [name, config, env, message] of cases) {
    it(`${name} → exit 2 with a message naming the problem and the fix`, async () => {
      const file = join(dir, `${name.replace(/ /g, '-')}.json`);
      writeFileSync(file, JSON.stringify(config));
      const d = spawnDaemon(['--config', file, '--check-config'], env);
      assert.equal(await d.exited, 2, d.out());
      assert.match(d.out(), message);
    });
  }

  it('no config at all → exit 2 naming --config and RTCOPS_HEALTH_CONFIG', async () => {
    const d = spawnDaemon([], {});
    assert.equal(await d.exited, 2);
    assert.match(d.out(), /no config: pass --config <file> or set RTCOPS_HEALTH_CONFIG/);
  });
});

describe('the daemon process: an incident across a daemon restart', () => {
  let s: TestServer | undefined;
  let rx: AlertReceiver;
  let serverPort: number;
  let daemonPort: number;
  let configFile: string;
  let env: Record<string, string>;
  const daemons: Daemon[] = [];

  before(async () => {
    serverPort = await freePort();
    daemonPort = await freePort();
    s = await startTestServer({ PORT: String(serverPort) });
    rx = await AlertReceiver.start();
    configFile = join(dir, 'daemon.yaml');
    writeFileSync(configFile, [
      'host: rtc-test', `stateFile: ${join(dir, 'state', 'alerts.json')}`, `listen: { host: 127.0.0.1, port: ${daemonPort} }`,
      'runbookUrl: https://git.example.test/rtcops/RUNBOOK.md', 'logLevel: debug',
      'alerting: { failureThreshold: 2, successThreshold: 1, reminderIntervalMin: 0, slack: true, plainHttpTo: [127.0.0.1/32], backoff: { initialDelayMs: 50, maxDelayMs: 100, minIntervalMs: 0 } }',
      'checks:',
      `  server: { schedule: "* * * * * *", url: "http://127.0.0.1:${serverPort}", signalingUrl: "ws://127.0.0.1:${serverPort}/signaling", requestTimeoutMs: 800 }`,
      '',
    ].join('\n'));
    env = { JWT_SECRET, ADMIN_TOKEN, SLACK_WEBHOOK_URL: rx.url };
  });
  after(async () => {
    for (const d of daemons) if (d.child.exitCode === null) { d.child.kill('SIGKILL'); await d.exited; }
    await s?.stop();
    await rx.down();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = () => {
    const d = spawnDaemon(['--config', configFile], env);
    daemons.push(d);
    return d;
  };
  const metric = async (line: RegExp) => {
    const text = await (await fetch(`http://127.0.0.1:${daemonPort}/metrics`)).text();
    return line.exec(text)?.[1];
  };

  it('healthy: /healthz answers, /metrics shows the server check ok, no alert', async () => {
    start();
    await until('the first server result', () => metric(/rtcops_health_check_status\{check="server",target="[^"]+"\} (-?\d)/));
    assert.equal(await metric(/rtcops_health_check_status\{check="server",target="[^"]+"\} (-?\d)/), '0');
    const h = (await (await fetch(`http://127.0.0.1:${daemonPort}/healthz`)).json()) as { status: string; checks: Record<string, { status: string }> };
    assert.equal(h.status, 'ok');
    assert.equal(Object.values(h.checks)[0]?.status, 'ok');
    assert.equal(rx.received.length, 0);
  });

  it('server down → one alert; the daemon restarts mid-incident and sends no duplicate; server back → one resolved', async () => {
    await s?.stop();
    s = undefined;
    await rx.waitFor(1, 10_000);
    assert.match(String(rx.received[0]?.body['text']), /CRITICAL server on rtc-test/);
    assert.equal(await metric(/rtcops_health_alerts_sent_total\{provider="slack",kind="triggered"\} (\d+)/), '1');

    const first = daemons[0];
    first?.child.kill('SIGTERM');
    assert.equal(await first?.exited, 0, 'SIGTERM stops the daemon cleanly');
    const second = start();
    await until('the restarted daemon to report the server critical', () => metric(/rtcops_health_check_status\{check="server",target="[^"]+"\} (2)/));
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(rx.received.length, 1, 'no duplicate after the restart');

    s = await startTestServer({ PORT: String(serverPort) });
    await rx.waitFor(2, 10_000);
    assert.match(String(rx.received[1]?.body['text']), /RESOLVED server on rtc-test/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(rx.received.length, 2);

    const logs = daemons.map((d) => d.out()).join('\n');
    for (const secret of [JWT_SECRET, ADMIN_TOKEN, new URL(rx.url).pathname]) assert.ok(!logs.includes(secret), 'no secret in the logs');
    second.child.kill('SIGTERM');
    await second.exited;
  });
});
