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

const BACKOFF = { initialDelayMs: 20, maxDelayMs: 100, minIntervalMs: 0 };

function alerter(rx: AlertReceiver, stateFile: string, extra: { maintenance?: MaintenanceWindow[]; reminderMin?: number; backoff?: Partial<typeof BACKOFF> } = {}) {
  const logs = capturedLogger();
  const a = new Alerter({
    host: 'rtc-test', store: new AlertStore(stateFile), providers: [new SlackProvider(rx.url, 1000)],
    policy: { failureThreshold: 2, successThreshold: 2, sendOnResolved: true, reminderIntervalMs: (extra.reminderMin ?? 30) * 60_000 },
    maintenance: extra.maintenance ?? [], runbookUrl: 'RUNBOOK.md', backoff: { ...BACKOFF, ...extra.backoff },
    log: logs.log, now: at,
  });
  alerters.push(a);
  return { a, logs };
}
const alerters: Alerter[] = [];
after(() => { for (const a of alerters) a.stop(); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
    for (const a of alerters.splice(0)) a.stop();
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
      maintenance: [], runbookUrl: 'RUNBOOK.md', backoff: BACKOFF, log: logs.log, now: at,
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

  it('receiver down when the alert is due: pending behind a back-off, delivered exactly once when it is back', async () => {
    const { a, logs } = alerter(rx, stateFile);
    const url = rx.url;
    await rx.down();
    await feed(a, ['critical', 'critical']);
    assert.equal(rx.received.length, 0);
    const failed = logs.entries().filter((e) => e['msg'] === 'alert delivery failed; it stays pending and is retried after the back-off');
    assert.equal(failed.length, 1, 'one attempt for this result, then the back-off');
    assert.equal(failed[0]?.['retryInMs'], 20);

    await rx.up();
    await feed(a, ['critical', 'critical', 'critical']);
    await sleep(150);
    assert.deepEqual(heads(rx).map((h) => h.split(' ')[0]), ['CRITICAL']);
    assert.match(String((rx.received[0]?.body['attachments'] as { text: string }[])[0]?.text), /Since:\* 2026-11-22T10:00:00.000Z/, 'with the time the incident started');
    assert.ok(!logs.lines.join('\n').includes(new URL(url).pathname), 'the webhook URL is never logged');
  });

  it('HTTP 500 for a stretch while results keep coming: attempts back off across results (not a burst per result), then one alert', async () => {
    const { a } = alerter(rx, stateFile, { backoff: { initialDelayMs: 50, maxDelayMs: 400 } });
    rx.status = 500;
    const t = Date.now();
    while (Date.now() - t < 1500) {
      await feed(a, ['critical']);
      await sleep(10);
    }
    const during = rx.attempts.length;
    // 50, 100, 200, 400, 400 ms apart: about 6 attempts in 1.5 s, where retrying every result would be over 100.
    assert.ok(during >= 3 && during <= 8, `${during} attempts in 1.5 s`);
    rx.status = 200;
    await sleep(450);
    await feed(a, ['critical']);
    assert.deepEqual(heads(rx).map((h) => h.split(' ')[0]), ['CRITICAL']);
  });

  it('429 with Retry-After: nothing is attempted until the wait it asked for is over, then the alert goes out once', async () => {
    const { a } = alerter(rx, stateFile);
    rx.status = 429;
    rx.retryAfter = '1';
    await feed(a, ['critical', 'critical']);
    assert.equal(rx.attempts.length, 1);
    rx.status = 200;
    const t = Date.now();
    while (Date.now() - t < 700) {
      await feed(a, ['critical']);
      await sleep(20);
    }
    assert.equal(rx.attempts.length, 1, 'no attempt while Slack asked to wait');
    await rx.waitFor(1, 2000);
    assert.ok((rx.attempts[1] ?? 0) - (rx.attempts[0] ?? 0) >= 950, 'the next attempt came after Retry-After');
    assert.deepEqual(heads(rx).map((h) => h.split(' ')[0]), ['CRITICAL']);
    rx.retryAfter = undefined;
  });

  it('two alerts due at once are spaced by minIntervalMs (Slack takes about one per second)', async () => {
    const { a } = alerter(rx, stateFile, { backoff: { minIntervalMs: 300 } });
    const other = (s: Status): CheckResult => ({ ...result(s), check: 'disk', target: '/' });
    for (const s of ['critical', 'critical'] as const) {
      await Promise.all([a.handle(result(s)), a.handle(other(s))]);
      minute++;
    }
    assert.equal(rx.received.length, 2);
    assert.ok((rx.received[1]?.at ?? 0) - (rx.received[0]?.at ?? 0) >= 290, 'at least minIntervalMs apart');
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
