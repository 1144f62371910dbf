import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { Alerter } from '../../../lib/alerting/alerter.js';
import { DEFAULT_CAUSES, type CauseRule } from '../../../lib/alerting/causes.js';
import { OUTSIDE_CAUSES } from '../../../lib/checks/watch.js';
import { SlackProvider } from '../../../lib/alerting/providers/slack.js';
import { AlertStore } from '../../../lib/alerting/store.js';
import type { CheckResult, Status } from '../../../lib/checks/result.js';
import { capturedLogger } from '../../helpers/log-sink.js';
import { AlertReceiver } from '../../helpers/receiver.js';

/** One alert per cause, through the real alerter and a local Slack stand-in, with the targets the real checks report. */
const dir = mkdtempSync(join(tmpdir(), 'rtcops-causes-'));
const alerters: Alerter[] = [];
after(() => {
  for (const a of alerters) a.stop();
  rmSync(dir, { recursive: true, force: true });
});

const t0 = Date.parse('2026-12-03T10:00:00Z');
let minute = 0;
const at = () => new Date(t0 + minute * 60_000);
const SERVER = 'server/http://127.0.0.1:3000';
const RELAYS = ['media-probe/relay:udp', 'media-probe/relay:tcp', 'media-probe/relay:tls'];
const ALL = ['host/rtc-test', 'services/nginx.service', 'services/coturn.service', 'turn/udp', 'turn/tcp', 'turn/tls', SERVER, 'pm2/rtcops', 'media-probe/direct', ...RELAYS];

function alerter(rx: AlertReceiver, stateFile: string, causes: readonly CauseRule[] = DEFAULT_CAUSES) {
  const a = new Alerter({
    host: 'rtc-test', store: new AlertStore(stateFile), providers: [new SlackProvider(rx.url, 1000)],
    policy: { failureThreshold: 2, successThreshold: 1, sendOnResolved: true, reminderIntervalMs: 3 * 60_000 },
    maintenance: [], causes, runbookUrl: 'RUNBOOK.md', backoff: { initialDelayMs: 20, maxDelayMs: 100, minIntervalMs: 0 },
    log: capturedLogger().log, now: at,
  });
  alerters.push(a);
  return a;
}

/** One daemon round a minute: every check target, the failing ones critical, in the daemon's run order (effects first). */
async function round(a: Alerter, failing: string[]): Promise<void> {
  const order = [...ALL].reverse();
  for (const id of order) {
    const slash = id.indexOf('/');
    const status: Status = failing.includes(id) ? 'critical' : 'ok';
    const r: CheckResult = { check: id.slice(0, slash), target: id.slice(slash + 1), status, message: `${id} ${status}`, values: {}, durationMs: 1, at: at().toISOString() };
    await a.handle(r);
  }
  minute++;
}
const texts = (rx: AlertReceiver) => rx.received.map((r) => JSON.stringify(r.body));
const heads = (rx: AlertReceiver) => rx.received.map((r) => String(r.body['text']).replace(/^:\w+: /, ''));

describe('one alert per cause (lib/alerting/causes.ts)', () => {
  let rx: AlertReceiver;
  let stateFile: string;
  after(() => rx?.down());
  beforeEach(async () => {
    await rx?.down();
    rx = await AlertReceiver.start();
    stateFile = join(dir, `state-${Math.random().toString(36).slice(2)}.json`);
    minute = 0;
  });

  it('no app running: one server alert naming pm2 and the four media probes, one resolution', async () => {
    const a = alerter(rx, stateFile);
    const down = [SERVER, 'pm2/rtcops', 'media-probe/direct', ...RELAYS];
    for (let i = 0; i < 5; i++) await round(a, down);
    await round(a, []);
    await round(a, []);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(heads(rx), ['CRITICAL server on rtc-test (http://127.0.0.1:3000)', 'CRITICAL (reminder) server on rtc-test (http://127.0.0.1:3000)', 'RESOLVED server on rtc-test (http://127.0.0.1:3000)']);
    assert.match(texts(rx)[0] ?? '', /Also affected \(held back, same cause\):\* media-probe\/direct, media-probe\/relay:tcp, media-probe\/relay:tls, media-probe\/relay:udp, pm2\/rtcops/);
  });

  it('coturn stopped, the daemon restarted mid-outage, relay probes failing once right after coturn is back: one alert naming coturn, one resolution', async () => {
    const coturnDown = ['services/coturn.service', 'turn/udp', 'turn/tcp', 'turn/tls', ...RELAYS];
    await round(alerter(rx, stateFile), coturnDown);
    await round(alerter(rx, stateFile), coturnDown);
    alerters.at(-1)?.stop();
    const restarted = alerter(rx, stateFile);
    await round(restarted, coturnDown);
    await round(restarted, ['media-probe/relay:udp', 'media-probe/relay:tls']);
    await round(restarted, []);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(heads(rx), ['CRITICAL services on rtc-test (coturn.service)', 'RESOLVED services on rtc-test (coturn.service)']);
    assert.match(texts(rx)[0] ?? '', /Also affected \(held back, same cause\):\* media-probe\/relay:tcp, media-probe\/relay:tls, media-probe\/relay:udp, turn\/tcp, turn\/tls, turn\/udp/);
  });

  it('nginx down: the chain (media probe → server → nginx) ends at nginx', async () => {
    const a = alerter(rx, stateFile);
    for (let i = 0; i < 2; i++) await round(a, ['services/nginx.service', SERVER, 'media-probe/direct', ...RELAYS]);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(heads(rx), ['CRITICAL services on rtc-test (nginx.service)']);
  });

  it('from outside, a host where nothing answers: one "silent" alert naming every probe, one resolution when it is back', async () => {
    const a = alerter(rx, stateFile, OUTSIDE_CAUSES);
    const outside = ['turn/udp', 'turn/tcp', 'turn/tls', SERVER, 'media-probe/direct', ...RELAYS];
    for (let i = 0; i < 3; i++) await round(a, ['host/rtc-test', ...outside]);
    const back = alerter(rx, stateFile, OUTSIDE_CAUSES);
    alerters.at(-2)?.stop();
    const r: CheckResult = { check: 'host', target: 'rtc-test', status: 'ok', message: 'answers', values: {}, durationMs: 0, at: at().toISOString() };
    await back.handle(r);
    await round(back, []);
    await new Promise((res) => setTimeout(res, 200));
    assert.deepEqual(heads(rx), ['CRITICAL host on rtc-test (rtc-test)', 'RESOLVED host on rtc-test (rtc-test)']);
    assert.match(texts(rx)[0] ?? '', /Also affected[^"]*media-probe\/direct, media-probe\/relay:tcp, media-probe\/relay:tls, media-probe\/relay:udp, server\/http:\/\/127.0.0.1:3000, turn\/tcp, turn\/tls, turn\/udp/);
  });

  it('an effect whose causes are healthy alerts by itself (media blocked by the firewall, a crash loop)', async () => {
    const a = alerter(rx, stateFile);
    for (let i = 0; i < 2; i++) await round(a, ['media-probe/direct', 'pm2/rtcops']);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(heads(rx).sort(), ['CRITICAL media-probe on rtc-test (direct)', 'CRITICAL pm2 on rtc-test (rtcops)']);
  });

  it('a cause that fails after its effect alerted: the effect stays open without reminders, the cause lists it', async () => {
    const a = alerter(rx, stateFile);
    for (let i = 0; i < 2; i++) await round(a, ['media-probe/direct']);
    for (let i = 0; i < 5; i++) await round(a, ['media-probe/direct', SERVER]);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(heads(rx), ['CRITICAL media-probe on rtc-test (direct)', 'CRITICAL server on rtc-test (http://127.0.0.1:3000)', 'CRITICAL (reminder) server on rtc-test (http://127.0.0.1:3000)']);
    assert.match(texts(rx)[1] ?? '', /Also affected[^"]*media-probe\/direct/);
  });
});
