import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../helpers/process.js';

/** The dead-man heartbeat from the real daemon process to a local push receiver (standing in for healthchecks.io). */
const root = fileURLToPath(new URL('../../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rtcops-heartbeat-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Push { method: string; path: string; body: string; at: number }

class PushReceiver {
  readonly pushes: Push[] = [];
  private server: Server | undefined;
  port = 0;
  async up(): Promise<void> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        this.pushes.push({ method: req.method ?? '', path: req.url ?? '', body, at: Date.now() });
        res.writeHead(200).end('OK');
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', () => resolve()));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    s?.closeAllConnections();
    await new Promise<void>((resolve) => (s === undefined ? resolve() : s.close(() => resolve())));
  }
}

function daemon(config: object, env: Record<string, string>, args: string[] = []): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const file = join(dir, `${randomUUID()}.json`);
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, ['--import', 'tsx', 'daemon/main.ts', '--config', file, ...args], { cwd: root, env: { PATH: process.env['PATH'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  return { child, out: () => out, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

async function until(what: string, f: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('the dead-man heartbeat (alerting.heartbeat, HEARTBEAT_URL)', { timeout: 90_000 }, () => {
  const rx = new PushReceiver();
  const token = randomUUID();
  const children: ChildProcess[] = [];
  const config = async (method: 'GET' | 'POST') => ({
    host: 'rtc-test', stateFile: join(dir, `${method}-alerts.json`), listen: { host: '127.0.0.1', port: await freePort() },
    alerting: { plainHttpTo: ['127.0.0.0/8'], heartbeat: { schedule: '* * * * * *', method } },
    checks: { disk: { schedule: '* * * * * *' } },
  });
  before(() => rx.up());
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await rx.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pushes every run with the host and its result counts; stopping the daemon stops them; the URL is never logged', async () => {
    const url = `http://127.0.0.1:${rx.port}/ping/${token}`;
    const d = daemon(await config('POST'), { HEARTBEAT_URL: url });
    children.push(d.child);
    await until('three heartbeats', () => rx.pushes.length >= 3);
    const last = rx.pushes.at(-1);
    assert.deepEqual([last?.method, last?.path], ['POST', `/ping/${token}`]);
    const body = JSON.parse(last?.body ?? '{}') as { host: string; results: Record<string, number> };
    assert.equal(body.host, 'rtc-test');
    assert.ok((body.results['ok'] ?? 0) + (body.results['warn'] ?? 0) + (body.results['critical'] ?? 0) >= 1, 'the disk check\'s result is counted');
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    const stoppedAt = rx.pushes.length;
    await sleep(2500);
    assert.equal(rx.pushes.length, stoppedAt, 'no heartbeat once the daemon stopped');
    assert.doesNotMatch(d.out(), new RegExp(token), 'the push URL is a secret');
    assert.doesNotMatch(d.out(), /\/ping\//);
  });

  it('GET for ping-only services; a receiver that is down is logged by its reason, not its URL', async () => {
    const url = `http://127.0.0.1:${rx.port}/ping/${token}`;
    rx.pushes.length = 0;
    const d = daemon(await config('GET'), { HEARTBEAT_URL: url });
    children.push(d.child);
    await until('a GET heartbeat', () => rx.pushes.length >= 1);
    assert.deepEqual([rx.pushes[0]?.method, rx.pushes[0]?.body], ['GET', '']);
    await rx.down();
    await until('a failed push logged', () => d.out().includes('heartbeat_failed'));
    assert.match(d.out(), /"reason":"ECONNREFUSED"/);
    assert.doesNotMatch(d.out(), new RegExp(token));
    await rx.up();
    const n = rx.pushes.length;
    await until('heartbeats again once the receiver is back', () => rx.pushes.length > n);
    d.child.kill('SIGTERM');
    await d.exited;
  });

  const cases: [string, Record<string, string>, RegExp][] = [
    ['on without HEARTBEAT_URL', {}, /HEARTBEAT_URL is not set \(alerting.heartbeat is on\): add it to the daemon's EnvironmentFile/],
    ['plain http to a public address', { HEARTBEAT_URL: 'http://203.0.113.7/ping/x' }, /HEARTBEAT_URL is a plain http URL to an address outside the networks allowed/],
  ];
  for (const [name, env, message] of cases) {
    it(`${name} → exit 2 naming the variable, never its value`, async () => {
      const d = daemon(await config('POST'), env, ['--check-config']);
      assert.equal(await d.exited, 2, d.out());
      assert.match(d.out(), message);
      assert.doesNotMatch(d.out(), /203\.0\.113\.7/);
    });
  }
});
