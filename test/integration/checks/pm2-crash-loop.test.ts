import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Alerter } from '../../../lib/alerting/alerter.js';
import { cachedDeployWindows, type DeployMarker } from '../../../lib/alerting/deploy-marker.js';
import { SlackProvider } from '../../../lib/alerting/providers/slack.js';
import { AlertStore } from '../../../lib/alerting/store.js';
import { Pm2Check } from '../../../lib/checks/pm2.js';
import { runCheck, type CheckResult } from '../../../lib/checks/result.js';
import { pm2Artifact } from '../../../lib/provision/artifacts.js';
import { capturedLogger } from '../../helpers/log-sink.js';
import { AlertReceiver } from '../../helpers/receiver.js';

/** The real PM2 (the version hosts get, from the artifact cache) runs a small app; the test kills it with -9 as a crash would. */
const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'rtcops-pm2-'));
const home = join(dir, 'pm2-home');
const marker = join(dir, 'deploy.json');
const pm2 = join(dir, 'node_modules', 'pm2', 'bin', 'pm2');
const NAME = 'rtcops-crash';
const env = { ...process.env, PM2_HOME: home };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function proc(): Promise<{ pid: number; status: string; restarts: number }> {
  const { stdout } = await exec(pm2, ['jlist'], { env });
  const p = (JSON.parse(stdout.slice(stdout.indexOf('['))) as { name: string; pid: number; pm2_env: { status: string; restart_time: number } }[]).find((x) => x.name === NAME);
  return { pid: p?.pid ?? 0, status: p?.pm2_env.status ?? 'absent', restarts: p?.pm2_env.restart_time ?? -1 };
}

/** kill -9 the app and wait until PM2 has it online again under a new pid. */
async function crash(): Promise<void> {
  const before = await proc();
  process.kill(before.pid, 'SIGKILL');
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    const now = await proc();
    if (now.status === 'online' && now.pid !== before.pid && now.pid !== 0) return;
  }
  throw new Error('PM2 did not restart the app');
}

/** A clock for the marker cache that moves a second per call: the test reads the marker at every result. */
const everyCallNew = () => {
  let t = 0;
  return () => (t += 1000);
};
const writeMarker = (m: DeployMarker) => writeFileSync(marker, JSON.stringify(m));

function watcher(rx: AlertReceiver) {
  const check = new Pm2Check({ processName: NAME, home, crashLoopRestarts: 2, crashLoopWindowMin: 10, deployMarker: marker }, pm2);
  const alerter = new Alerter({
    host: 'rtc-test', store: new AlertStore(join(dir, `alerts-${Math.random().toString(36).slice(2)}.json`)), providers: [new SlackProvider(rx.url, 2000)],
    policy: { failureThreshold: 2, successThreshold: 2, sendOnResolved: true, reminderIntervalMs: 30 * 60_000 },
    maintenance: [], extraMaintenance: cachedDeployWindows(marker, everyCallNew()), runbookUrl: 'RUNBOOK.md',
    backoff: { initialDelayMs: 20, maxDelayMs: 100, minIntervalMs: 0 }, log: capturedLogger().log,
  });
  alerters.push(alerter);
  /** One daemon run of the pm2 check: its result, through the alerter. */
  return async (): Promise<CheckResult> => {
    const [r] = await runCheck(check, 10_000);
    if (r === undefined) throw new Error('no result');
    await alerter.handle(r);
    return r;
  };
}
const alerters: Alerter[] = [];

describe('pm2 crash loops with the real PM2', { timeout: 180_000 }, () => {
  let rx: AlertReceiver;
  before(async () => {
    const art = await pm2Artifact('7.0.4');
    await exec('tar', ['xzf', art.file, '-C', dir]);
    writeFileSync(join(dir, 'app.js'), 'setInterval(() => {}, 1000);\n');
    await exec(pm2, ['start', join(dir, 'app.js'), '--name', NAME], { env });
    rx = await AlertReceiver.start();
  });
  after(async () => {
    for (const a of alerters) a.stop();
    await exec(pm2, ['kill'], { env }).catch(() => undefined);
    await rx?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kill -9 twice within a minute, PM2 restarting it at once: one crash-loop alert, though the app is online at every run', async () => {
    const run = watcher(rx);
    assert.equal((await run()).status, 'ok');
    await crash();
    const once = await run();
    assert.deepEqual([once.status, once.values['restartsInWindow']], ['ok', 1]);
    await crash();
    const results = [await run(), await run(), await run()];
    assert.deepEqual(results.map((r) => r.status), ['critical', 'critical', 'critical']);
    assert.equal((await proc()).status, 'online');
    const alerts = await rx.waitFor(1);
    await sleep(300);
    assert.equal(alerts.length, 1, 'one alert for the incident');
    assert.match(JSON.stringify(alerts[0]?.body), /crash loop: PM2 restarted rtcops-crash 2 times in the last/);
  });

  it('a deploy\'s own restarts (the marker) neither alert nor count afterwards; a crash after it ended does', async () => {
    rx.received.length = 0;
    const started = new Date().toISOString();
    writeMarker({ release: 'r2', by: 'test', from: started, until: new Date(Date.now() + 60_000).toISOString() });
    const run = watcher(rx);
    await exec(pm2, ['restart', NAME], { env });
    await exec(pm2, ['restart', NAME], { env });
    assert.deepEqual([(await run()).status, (await run()).status], ['ok', 'ok']);
    await exec(pm2, ['restart', NAME], { env });
    writeMarker({ release: 'r2', by: 'test', from: started, until: new Date().toISOString() });
    await sleep(50);
    const afterDeploy = await run();
    assert.deepEqual([afterDeploy.status, afterDeploy.values['restartsInWindow']], ['ok', 0]);
    await crash();
    await crash();
    assert.deepEqual([(await run()).status, (await run()).status], ['critical', 'critical']);
    await rx.waitFor(1);
    assert.equal(rx.received.length, 1);
  });
});
