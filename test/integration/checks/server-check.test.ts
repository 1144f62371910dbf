import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Alerter } from '../../../lib/alerting/alerter.js';
import { SlackProvider } from '../../../lib/alerting/providers/slack.js';
import { AlertStore } from '../../../lib/alerting/store.js';
import { runCheck } from '../../../lib/checks/result.js';
import { ServerCheck } from '../../../lib/checks/server.js';
import { capturedLogger } from '../../helpers/log-sink.js';
import { freePort } from '../../helpers/process.js';
import { AlertReceiver } from '../../helpers/receiver.js';
import { ADMIN_TOKEN, JWT_SECRET, startTestServer, type TestServer } from '../../helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-server-check-'));

describe('server: the real signaling server, a dead worker, a restart', () => {
  let port: number;
  let s: TestServer | undefined;
  let rx: AlertReceiver;
  let alerter: Alerter;
  const make = (overrides: { adminToken?: string; jwtSecret?: string; signalingUrl?: string; address?: string } = {}) =>
    new ServerCheck({ url: `http://127.0.0.1:${port}`, signalingUrl: overrides.signalingUrl ?? `ws://127.0.0.1:${port}/signaling`, address: overrides.address, adminToken: overrides.adminToken ?? ADMIN_TOKEN, jwtSecret: overrides.jwtSecret ?? JWT_SECRET, workerCpuWarnPercent: 80, workerCpuCriticalPercent: 95, requestTimeoutMs: 2000 });
  const cycle = async () => {
    const [r] = await runCheck(make(), 5000);
    assert.ok(r);
    await alerter.handle(r);
    return r;
  };

  before(async () => {
    port = await freePort();
    s = await startTestServer({ PORT: String(port) });
    rx = await AlertReceiver.start();
    alerter = new Alerter({
      host: 'rtc-test', store: new AlertStore(join(dir, 'state.json')), providers: [new SlackProvider(rx.url)],
      policy: { failureThreshold: 1, successThreshold: 1, sendOnResolved: true, reminderIntervalMs: 0 },
      maintenance: [], runbookUrl: 'RUNBOOK.md', backoff: { initialDelayMs: 10, maxDelayMs: 10, minIntervalMs: 0 }, log: capturedLogger().log,
    });
  });
  after(async () => {
    await s?.stop();
    await rx.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it('healthy: endpoints answer, workers alive, the signaling probe gets a transport', async () => {
    const r = await cycle();
    assert.equal(r.status, 'ok', r.message);
    assert.match(r.message, /server healthy: 1\/1 workers alive, \d+ rooms, \d+ peers, signaling \d+ ms/);
    assert.equal(r.values['readyz'], 200);
    assert.equal(rx.received.length, 0);
  });

  it('address: the probe connects there, no DNS asked, while the URL keeps its name (nginx on loopback on the host)', async () => {
    const url = `ws://rtc.rtcops.invalid:${port}/signaling`;
    const [viaAddress] = await runCheck(make({ signalingUrl: url, address: '127.0.0.1' }), 5000);
    assert.equal(viaAddress?.status, 'ok', viaAddress?.message);
  });

  it('a wrong admin token or JWT secret is critical and says which', async () => {
    const badAdmin = await runCheck(make({ adminToken: 'x'.repeat(40) }), 5000);
    assert.match(badAdmin[0]?.message ?? '', /\/status refused the admin token/);
    const badJwt = await runCheck(make({ jwtSecret: 'y'.repeat(40) }), 5000);
    assert.equal(badJwt[0]?.status, 'critical');
    assert.match(badJwt[0]?.message ?? '', /signaling probe failed: WebSocket upgrade answered HTTP 401/);
  });

  it('a mediasoup worker killed with SIGKILL → critical, alerted', async () => {
    const status = (await (await fetch(`http://127.0.0.1:${port}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { workers: { pid: number }[] };
    const pid = status.workers[0]?.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGKILL');
    // Wait until the server itself has noticed (its /readyz turns 503), however slow the machine.
    for (let i = 0; i < 100 && (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200; i++) await new Promise((r) => setTimeout(r, 50));
    const r = await cycle();
    assert.equal(r.status, 'critical');
    assert.match(r.message, new RegExp(`mediasoup worker 0 \\(pid ${pid}\\) is dead`));
    assert.match(r.message, /not ready/);
    assert.equal(rx.received.length, 1);
    assert.match(String(rx.received[0]?.body['text']), /CRITICAL server on rtc-test/);
  });

  it('server stopped → still critical (no second alert); restarted → resolved', async () => {
    await s?.stop();
    s = undefined;
    const down = await cycle();
    assert.match(down.message, /does not answer on http:\/\/127.0.0.1:\d+ \(ECONNREFUSED\)/);
    assert.equal(rx.received.length, 1);

    s = await startTestServer({ PORT: String(port) });
    const up = await cycle();
    assert.equal(up.status, 'ok', up.message);
    assert.equal(rx.received.length, 2);
    assert.match(String(rx.received[1]?.body['text']), /RESOLVED server on rtc-test/);
  });
});
