import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { Alerter } from '../../../lib/alerting/alerter.js';
import type { MaintenanceWindow } from '../../../lib/alerting/maintenance.js';
import { SlackProvider } from '../../../lib/alerting/providers/slack.js';
import { AlertStore } from '../../../lib/alerting/store.js';
import type { CheckResult, Status } from '../../../lib/checks/result.js';
import { capturedLogger } from '../../helpers/log-sink.js';
import { AlertReceiver } from '../../helpers/receiver.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-alerting-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const t0 = Date.parse('2026-11-22T10:00:00Z');
let minute = 0;
const at = () => new Date(t0 + minute * 60_000);

function result(status: Status): CheckResult {
  return { check: 'server', target: 'http://127.0.0.1:3000', status, message: status === 'ok' ? 'server healthy' : 'worker 0 (pid 123) is dead', values: { workersAlive: status === 'ok' ? 1 : 0 }, durationMs: 5, at: at().toISOString() };
}

function alerter(rx: AlertReceiver, stateFile: string, extra: { maintenance?: MaintenanceWindow[]; reminderMin?: number } = {}) {
  const logs = capturedLogger();
  const a = new Alerter({
    host: 'rtc-test', store: new AlertStore(stateFile), providers: [new SlackProvider(rx.url, 1000)],
    policy: { failureThreshold: 2, successThreshold: 2, sendOnResolved: true, reminderIntervalMs: (extra.reminderMin ?? 30) * 60_000 },
    maintenance: extra.maintenance ?? [], runbookUrl: 'RUNBOOK.md', retry: { attempts: 3, initialDelayMs: 20, maxDelayMs: 100 },
    log: logs.log, now: at,
  });
  return { a, logs };
}

/** Feed statuses one minute apart; return the first line of every alert received so far. */
async function feed(a: Alerter, statuses: Status[]): Promise<void> {
  for (const s of statuses) {
    await a.handle(result(s));
    minute++;
  }
}
const heads = (rx: AlertReceiver) => rx.received.map((r) => String(r.body['text']).replace(/^:\w+: /, ''));

describe('alerting to a Slack stand-in (local receiver)', () => {
  let rx: AlertReceiver;
  let stateFile: string;
  beforeEach(async () => {
    await rx?.down();
    rx = await AlertReceiver.start();
    stateFile = join(dir, `state-${Math.random().toString(36).slice(2)}.json`);
    minute = 0;
  });
  after(() => rx.down());

  it('alerts once at the failure threshold and once when resolved', async () => {
    const { a } = alerter(rx, stateFile);
    await feed(a, ['critical', 'critical', 'critical', 'critical', 'ok', 'ok', 'ok']);
    assert.deepEqual(heads(rx), ['CRITICAL server on rtc-test (http://127.0.0.1:3000)', 'RESOLVED server on rtc-test (http://127.0.0.1:3000)']);
  });

  it('a check with its own policy (checks.<name>.alert) alerts on its own numbers; the others keep alerting\'s', async () => {
    const logs = capturedLogger();
    const a = new Alerter({
      host: 'rtc-test', store: new AlertStore(stateFile), providers: [new SlackProvider(rx.url, 1000)],
      policy: { failureThreshold: 2, successThreshold: 2, sendOnResolved: true, reminderIntervalMs: 30 * 60_000 },
      policies: { 'tls-expiry': { failureThreshold: 1, successThreshold: 1, sendOnResolved: true, reminderIntervalMs: 0 } },
      maintenance: [], runbookUrl: 'RUNBOOK.md', retry: { attempts: 3, initialDelayMs: 20, maxDelayMs: 100 }, log: logs.log, now: at,
    });
    const tls = (status: Status): CheckResult => ({ ...result(status), check: 'tls-expiry', target: '127.0.0.1:443', message: status === 'ok' ? 'valid for 80 days' : 'expires in 3 days' });
    await a.handle(tls('critical'));
    await a.handle(result('critical'));
    minute++;
    assert.deepEqual(heads(rx), ['CRITICAL tls-expiry on rtc-test (127.0.0.1:443)'], 'tls-expiry on its first failure, server not yet');
    await a.handle(result('critical'));
    await a.handle(tls('ok'));
    assert.deepEqual(heads(rx), ['CRITICAL tls-expiry on rtc-test (127.0.0.1:443)', 'CRITICAL server on rtc-test (http://127.0.0.1:3000)', 'RESOLVED tls-expiry on rtc-test (127.0.0.1:443)']);
  });

  it('reminds while the check keeps failing', async () => {
    const { a } = alerter(rx, stateFile, { reminderMin: 10 });
    await feed(a, Array.from({ length: 23 }, () => 'critical' as const));
    assert.deepEqual(heads(rx).map((h) => h.split(' server')[0]), ['CRITICAL', 'CRITICAL (reminder)', 'CRITICAL (reminder)']);
  });

  it('a restart mid-incident neither re-sends the open alert nor forgets it', async () => {
    await feed(alerter(rx, stateFile).a, ['critical', 'critical']);
    assert.equal(rx.received.length, 1);
    assert.equal((JSON.parse(readFileSync(stateFile, 'utf8')) as { alerts: Record<string, { triggered: boolean }> }).alerts['slack/server/http://127.0.0.1:3000']?.triggered, true);

    const restarted = alerter(rx, stateFile).a;
    await feed(restarted, ['critical', 'critical', 'ok', 'ok']);
    assert.deepEqual(heads(rx).map((h) => h.split(' ')[0]), ['CRITICAL', 'RESOLVED']);
  });

  it('receiver down when the alert is due: retried with backoff, then delivered exactly once after it is back', async () => {
    const { a, logs } = alerter(rx, stateFile);
    const url = rx.url;
    await rx.down();
    await feed(a, ['critical', 'critical']);
    assert.equal(rx.received.length, 0);
    const failures = logs.entries().filter((e) => e['msg'] === 'alert delivery failed; retrying' || e['msg'] === 'alert not delivered; it is sent again after the next check result');
    assert.equal(failures.length, 3, 'three attempts, each logged');
    assert.equal(failures.at(-1)?.['level'], 50, 'the final failure is an error');

    await rx.up();
    await feed(a, ['critical', 'critical', 'critical']);
    assert.deepEqual(heads(rx).map((h) => h.split(' ')[0]), ['CRITICAL']);
    assert.ok(!logs.lines.join('\n').includes(new URL(url).pathname), 'the webhook URL is never logged');
  });

  it('a failure answered by Slack (HTTP 500) is retried within the same result', async () => {
    const { a } = alerter(rx, stateFile);
    rx.status = 500;
    setTimeout(() => { rx.status = 200; }, 30);
    await feed(a, ['critical', 'critical']);
    assert.deepEqual(heads(rx).map((h) => h.split(' ')[0]), ['CRITICAL']);
  });

  it('a maintenance window holds alerts back; a still-failing check alerts when it ends', async () => {
    const window: MaintenanceWindow = { from: new Date(t0).toISOString(), until: new Date(t0 + 5 * 60_000).toISOString() };
    const { a } = alerter(rx, stateFile, { maintenance: [window] });
    await feed(a, ['critical', 'critical', 'critical', 'critical', 'critical']);
    assert.equal(rx.received.length, 0);
    await feed(a, ['critical']);
    assert.deepEqual(heads(rx).map((h) => h.split(' ')[0]), ['CRITICAL']);
  });
});
