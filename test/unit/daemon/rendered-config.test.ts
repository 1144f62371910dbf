import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { after, describe, test } from 'node:test';
import cron from 'node-cron';
import { buildChecks } from '../../../lib/checks/index.js';
import { loadConfigFile, secretsFromEnv } from '../../../daemon/config.js';
import type { DaemonConfig } from '../../../lib/daemon-config.js';
import { alertPolicies } from '../../../daemon/daemon.js';
import { ALL_CHECKS } from '../../../lib/checks/operator.js';
import { InventoryError, parseInventory, selectHost, type ResolvedHost } from '../../../lib/inventory/index.js';
import { HOST_DAEMON_CHECKS } from '../../../lib/inventory/schema.js';
import { renderHost } from '../../../lib/render/files.js';
import { EXAMPLE_INVENTORY, exampleHost, exampleWithProd, FAKE_SECRET_ENV, fakeSecrets } from '../../fixtures/inventories/hosts.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-rendered-daemon-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Render the host's files and load them the way the daemon does: its config file and its EnvironmentFile. */
function loadRendered(host: ResolvedHost) {
  const files = renderHost(host, fakeSecrets(host)).files;
  const file = (id: string) => files.find((f) => f.id === id)?.content ?? assert.fail(`no ${id}`);
  const configFile = join(dir, `${host.name}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(configFile, file('health-daemon-config'));
  const cfg = loadConfigFile(configFile);
  const env = parseEnv(file('health-daemon-env'));
  return { cfg, env, secrets: secretsFromEnv(cfg, env, configFile), unit: file('health-daemon-unit') };
}

const schedules = (cfg: DaemonConfig) => Object.fromEntries(Object.entries(cfg.checks).map(([name, c]) => [name, c.schedule]));

describe('the rendered daemon config is what the daemon loads (inventory.yaml → templates → daemon/config.ts)', () => {
  for (const name of ['sandbox', 'prod'] as const) {
    test(`${name}: the daemon's own loader accepts the config, the env file holds every secret it needs, every check builds`, () => {
      const { cfg, secrets } = loadRendered(exampleHost(name));
      assert.deepEqual(buildChecks(cfg.checks, secrets).map((c) => c.check.name), ['tls-expiry', 'disk', 'system', 'turn', 'turn-peers', 'server', 'pm2', 'services', 'media-probe']);
      assert.equal(secrets.turnSecret, FAKE_SECRET_ENV.RTCOPS_SANDBOX_TURN_SECRET);
      assert.equal(cfg.alerting.slack, name === 'prod');
      if (name === 'prod') assert.equal(secrets.slackWebhookUrl, FAKE_SECRET_ENV.RTCOPS_PROD_SLACK_WEBHOOK_URL);
    });
  }

  test('sandbox: probes nginx on loopback and coturn on the announced IP (not loopback: coturn relays from the address a client came in on) under their public names, trusting the ACME roots', () => {
    const host = exampleHost('sandbox');
    const c = loadRendered(host).cfg.checks;
    assert.deepEqual(c['tls-expiry']?.targets, [
      { host: '127.0.0.1', port: 443, servername: 'rtc.sandbox.test', certFile: '/etc/letsencrypt/live/rtc.sandbox.test/fullchain.pem' },
      { host: '10.77.0.2', port: 5349, servername: 'turn.sandbox.test', certFile: '/etc/letsencrypt/live/rtc.sandbox.test/fullchain.pem' },
      // TURN over TLS on 443: nginx's router hands turn.sandbox.test to coturn, so coturn's certificate answers there.
      { host: '10.77.0.2', port: 443, servername: 'turn.sandbox.test', certFile: '/etc/letsencrypt/live/rtc.sandbox.test/fullchain.pem' },
    ]);
    assert.deepEqual([c.turn?.host, c.turn?.servername, c.turn?.port, c.turn?.tlsPort, c.turn?.tls443, c.turn?.peerIp, c.turn?.announcedIp, c.turn?.externalIp, c.turn?.dnsName], ['10.77.0.2', 'turn.sandbox.test', 3478, 5349, true, '10.77.0.2', '10.77.0.2', '10.77.0.2', undefined]);
    assert.deepEqual([c.server?.url, c.server?.signalingUrl, c.server?.address], ['http://127.0.0.1:3000', 'wss://rtc.sandbox.test/signaling', '127.0.0.1']);
    assert.deepEqual(c['media-probe']?.relayUrls, ['turn:10.77.0.2:3478?transport=udp', 'turn:10.77.0.2:3478?transport=tcp', 'turns:10.77.0.2:5349?transport=tcp', 'turns:10.77.0.2:443?transport=tcp']);
    const roots = '/etc/rtcops/acme-issuer-roots.pem';
    assert.deepEqual([c['tls-expiry']?.caFile, c.turn?.caFile, c.server?.caFile, c['media-probe']?.caFile], [roots, roots, roots, roots]);
    assert.deepEqual([c.pm2?.processName, c.pm2?.home], ['rtcops', '/home/rtcops/.pm2']);
    assert.deepEqual(c.services?.units, ['nginx.service', 'coturn.service', 'fail2ban.service', 'certbot.timer', 'prometheus-node-exporter.service']);
  });

  test('turn.tls443: false: no 443 targets, the TLS listener is probed on its own port only', () => {
    const host = exampleHost('sandbox');
    host.turn.tls443 = false;
    const c = loadRendered(host).cfg.checks;
    assert.deepEqual(c['tls-expiry']?.targets.map((t) => `${t.servername}:${t.port}`), ['rtc.sandbox.test:443', 'turn.sandbox.test:5349']);
    assert.equal(c.turn?.tls443, false);
    assert.deepEqual(c['media-probe']?.relayUrls.filter((u) => u.includes(':443')), []);
  });

  test('prod: the TURN name\'s public DNS is compared with the announced IP; no ACME roots: the system\'s CAs', () => {
    const c = loadRendered(exampleHost('prod')).cfg.checks;
    assert.equal(c.turn?.dnsName, 'turn.example.com');
    assert.deepEqual([c['tls-expiry']?.caFile, c.turn?.caFile, c.server?.caFile, c['media-probe']?.caFile], [undefined, undefined, undefined, undefined]);
  });

  test('coturn is probed on the first address it listens on, else its relay address, never on loopback', () => {
    const host = exampleHost('prod');
    host.turn.relayIp = '10.0.0.5';
    assert.equal(loadRendered(host).cfg.checks.turn?.host, '10.0.0.5');
    host.turn.listeningIps = ['127.0.0.1', '10.0.0.6'];
    assert.equal(loadRendered(host).cfg.checks.turn?.host, '10.0.0.6');
  });

  test('thresholds come from the inventory: warn at the value, critical halfway to full', () => {
    const host = exampleHost('sandbox');
    Object.assign(host.daemon, { diskPercent: 70, memoryPercent: 90, cpuPercent: 60, certExpiryDays: 21, failureThreshold: 5, successThreshold: 1, reminderIntervalMin: 0 });
    const { cfg } = loadRendered(host);
    const c = cfg.checks;
    assert.deepEqual([c.disk?.warnPercent, c.disk?.criticalPercent, c.disk?.inodeWarnPercent, c.disk?.inodeCriticalPercent], [70, 85, 70, 85]);
    assert.deepEqual([c.system?.memoryWarnPercent, c.system?.memoryCriticalPercent, c.system?.cpuWarnPercent, c.system?.cpuCriticalPercent], [90, 95, 60, 80]);
    assert.deepEqual([c['tls-expiry']?.warnDays, c['tls-expiry']?.criticalDays], [21, 7]);
    assert.deepEqual([cfg.alerting.failureThreshold, cfg.alerting.successThreshold, cfg.alerting.reminderIntervalMin], [5, 1, 0]);
  });

  test('daemon.checkAlerting: per check thresholds reach the daemon, which alerts on its own policy per check', () => {
    const yaml = exampleWithProd().replace('    app:\n      domains: [rtc.sandbox.test]',
      '    daemon: { failureThreshold: 3, reminderIntervalMin: 60, checkAlerting: { tls-expiry: { failureThreshold: 1, reminderIntervalMin: 1440 }, media-probe: { successThreshold: 3 } } }\n    app:\n      domains: [rtc.sandbox.test]');
    const host = selectHost(parseInventory(yaml, EXAMPLE_INVENTORY), 'sandbox');
    const { cfg } = loadRendered(host);
    assert.deepEqual(cfg.checks['tls-expiry']?.alert, { failureThreshold: 1, reminderIntervalMin: 1440 });
    assert.deepEqual(cfg.checks['media-probe']?.alert, { successThreshold: 3 });
    assert.equal(cfg.checks.server?.alert, undefined);
    const { policy, policies } = alertPolicies(cfg);
    assert.deepEqual(policy, { failureThreshold: 3, successThreshold: 2, sendOnResolved: true, reminderIntervalMs: 3_600_000 });
    assert.deepEqual(policies, {
      'tls-expiry': { failureThreshold: 1, successThreshold: 2, sendOnResolved: true, reminderIntervalMs: 86_400_000 },
      'media-probe': { failureThreshold: 3, successThreshold: 3, sendOnResolved: true, reminderIntervalMs: 3_600_000 },
    });
  });

  test('daemon.checkAlerting names only the host daemon\'s checks (the list the operator checks use), and whole numbers', () => {
    assert.deepEqual([...HOST_DAEMON_CHECKS].sort(), [...ALL_CHECKS].sort());
    const bad = (block: string) => exampleWithProd().replace('    app:\n      domains: [rtc.sandbox.test]', `    daemon: { checkAlerting: ${block} }\n    app:\n      domains: [rtc.sandbox.test]`);
    assert.throws(() => parseInventory(bad('{ backup: { failureThreshold: 1 } }'), EXAMPLE_INVENTORY), (e: unknown) => e instanceof InventoryError && e.issues.some((i) => i.path.startsWith('hosts.sandbox.daemon.checkAlerting')));
    assert.throws(() => parseInventory(bad('{ tls-expiry: { failureThreshold: 0 } }'), EXAMPLE_INVENTORY), (e: unknown) => e instanceof InventoryError && e.issues.some((i) => i.path === 'hosts.sandbox.daemon.checkAlerting.tls-expiry.failureThreshold'));
    assert.throws(() => parseInventory(bad('{ tls-expiry: { threshold: 1 } }'), EXAMPLE_INVENTORY), (e: unknown) => e instanceof InventoryError && e.issues.some((i) => i.path === 'hosts.sandbox.daemon.checkAlerting.tls-expiry.threshold' && /unknown key/.test(i.message)));
  });

  const intervals: [number, Record<string, string>][] = [
    [60, { disk: '0 */1 * * * *', system: '5 */1 * * * *', turn: '30 */1 * * * *', 'turn-peers': '40 */1 * * * *', server: '15 */1 * * * *', pm2: '45 */1 * * * *', services: '20 */1 * * * *' }],
    [15, { disk: '0,15,30,45 * * * * *', system: '5,20,35,50 * * * * *', turn: '0,15,30,45 * * * * *', 'turn-peers': '10,25,40,55 * * * * *', server: '0,15,30,45 * * * * *', pm2: '0,15,30,45 * * * * *', services: '5,20,35,50 * * * * *' }],
    [300, { disk: '0 */5 * * * *', system: '5 */5 * * * *', turn: '30 */5 * * * *', 'turn-peers': '40 */5 * * * *', server: '15 */5 * * * *', pm2: '45 */5 * * * *', services: '20 */5 * * * *' }],
    [3600, { disk: '0 0 * * * *', system: '5 0 * * * *', turn: '30 0 * * * *', 'turn-peers': '40 0 * * * *', server: '15 0 * * * *', pm2: '45 0 * * * *', services: '20 0 * * * *' }],
  ];
  for (const [intervalSec, want] of intervals) {
    test(`daemon.intervalSec ${intervalSec} → cron schedules node-cron accepts; TLS every 10 min, media probe every 5`, () => {
      const host = exampleHost('sandbox');
      host.daemon.intervalSec = intervalSec;
      const got = schedules(loadRendered(host).cfg);
      assert.deepEqual(got, { ...want, 'tls-expiry': '0 */10 * * * *', 'media-probe': '0 */5 * * * *' });
      for (const s of Object.values(got)) assert.ok(cron.validate(s), s);
    });
  }

  test('an interval cron cannot express evenly is an inventory error naming the key', () => {
    const yaml = exampleWithProd().replace('    app:\n      domains: [rtc.sandbox.test]', '    daemon: { intervalSec: 90 }\n    app:\n      domains: [rtc.sandbox.test]');
    assert.throws(() => parseInventory(yaml, EXAMPLE_INVENTORY), (e: unknown) => e instanceof InventoryError && e.issues.some((i) => i.path === 'hosts.sandbox.daemon.intervalSec' && /must divide a minute/.test(i.message)));
  });

  test('the unit starts the entry provisioning installs, with the rendered config and env file, and owns the state directory', () => {
    const host = exampleHost('sandbox');
    const { cfg, unit } = loadRendered(host);
    assert.match(unit, new RegExp(`^ExecStart=/usr/bin/env node ${host.app.daemonDir}/dist/daemon/main\\.js --config ${host.app.daemonConfigFile}$`, 'm'));
    assert.match(unit, new RegExp(`^EnvironmentFile=${host.app.daemonEnvFile}$`, 'm'));
    const stateDir = /^StateDirectory=(.+)$/m.exec(unit)?.[1];
    assert.equal(cfg.stateFile, `/var/lib/${stateDir}/alerts.json`);
    assert.match(unit, /^ProtectHome=read-only$/m);
  });
});
