import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig, secretsFromEnv } from '../../../daemon/config.js';

const base = { host: 'rtc-1', stateFile: '/var/lib/rtcops-health/alerts.json' };
const problems = (f: () => unknown): string[] => {
  try {
    f();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('daemon config', () => {
  it('fills defaults in one place', () => {
    const c = parseConfig({ ...base, checks: { disk: {} } }, 'cfg');
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 9464 });
    assert.deepEqual([c.alerting.failureThreshold, c.alerting.successThreshold, c.alerting.reminderIntervalMin, c.alerting.sendOnResolved], [3, 2, 60, true]);
    assert.deepEqual(c.checks.disk, { schedule: '0 * * * * *', timeoutMs: 5000, mounts: [], allFilesystems: true, warnPercent: 80, criticalPercent: 90, inodeWarnPercent: 80, inodeCriticalPercent: 90 });
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['unknown top-level key', { ...base, checks: {}, colour: 'red' }, /^\(top level\): Unrecognized key: "colour"/],
    ['unknown check', { ...base, checks: { dns: {} } }, /^checks: Unrecognized key: "dns"/],
    ['bad cron expression', { ...base, checks: { disk: { schedule: 'every minute' } } }, /^checks.disk.schedule: "every minute" is not a cron expression/],
    ['percent out of range', { ...base, checks: { disk: { warnPercent: 180 } } }, /^checks.disk.warnPercent: /],
    ['signaling URL not ws', { ...base, checks: { server: { url: 'http://127.0.0.1:3000', signalingUrl: 'http://x/signaling' } } }, /^checks.server.signalingUrl: /],
    ['relay URL not a TURN URL', { ...base, checks: { 'media-probe': { signalingUrl: 'ws://127.0.0.1/signaling', relayUrls: ['stun:turn.example.com'] } } }, /^checks.media-probe.relayUrls.0: stun:turn.example.com is not a turn: or turns: URL/],
    ['two relay URLs for one transport', { ...base, checks: { 'media-probe': { signalingUrl: 'ws://127.0.0.1/signaling', relayUrls: ['turn:a.example.com', 'turn:b.example.com?transport=udp'] } } }, /^checks.media-probe.relayUrls: one URL per path/],
    ['maintenance start not HH:MM', { ...base, checks: {}, alerting: { maintenance: [{ days: ['sun'], start: '3am', durationMin: 60 }] } }, /^alerting.maintenance.0/],
    ['a TLS target without servername', { ...base, checks: { 'tls-expiry': { targets: [{ host: '127.0.0.1', port: 443 }] } } }, /^checks.tls-expiry.targets.0.servername: /],
  ];
  for (const [name, input, message] of bad) {
    it(`${name} → a problem naming the path`, () => {
      const p = problems(() => parseConfig(input, 'cfg'));
      assert.equal(p.length, 1, p.join('\n'));
      assert.match(p[0] ?? '', message);
    });
  }

  it('names every missing secret the configured checks need, and only those', () => {
    const c = parseConfig({ ...base, alerting: { webhook: true }, checks: { turn: { host: '127.0.0.1', servername: 'turn.test' }, disk: {} } }, 'cfg');
    assert.deepEqual(problems(() => secretsFromEnv(c, {}, 'cfg')), [
      "TURN_SECRET is not set (the turn check and the relayed media probe mint TURN credentials with it): add it to the daemon's EnvironmentFile",
      "ALERT_WEBHOOK_URL is not set (alerting.webhook is on): add it to the daemon's EnvironmentFile",
    ]);
    assert.equal(secretsFromEnv(c, { TURN_SECRET: 't', ALERT_WEBHOOK_URL: 'https://127.0.0.1:1/x' }, 'cfg').turnSecret, 't');
  });

  const destinations: [string, string, string[], RegExp | undefined][] = [
    ['https', 'https://hooks.slack.invalid/x', [], undefined],
    ['http, no network allowed', 'http://127.0.0.1:1/x', [], /^SLACK_WEBHOOK_URL is a plain http URL to an address outside the networks allowed for plain http \(none are\): fix it in the daemon's EnvironmentFile, or list the address's network in alerting.plainHttpTo$/],
    ['http inside alerting.plainHttpTo', 'http://127.0.0.1:1/x', ['127.0.0.0/8'], undefined],
    ['http to a name', 'http://relay.internal/x', ['10.0.0.0/8'], /^SLACK_WEBHOOK_URL is a plain http URL to a name/],
  ];
  for (const [name, url, plainHttpTo, message] of destinations) {
    it(`alert destination ${name}: ${message === undefined ? 'accepted' : 'a problem naming the variable and the fix'}`, () => {
      const c = parseConfig({ ...base, alerting: { slack: true, plainHttpTo }, checks: { disk: {} } }, 'cfg');
      const p = problems(() => secretsFromEnv(c, { SLACK_WEBHOOK_URL: url }, 'cfg'));
      if (message === undefined) assert.deepEqual(p, []);
      else assert.match(p.join('\n'), message);
    });
  }

  it('alerting.plainHttpTo takes private networks only', () => {
    const p = problems(() => parseConfig({ ...base, alerting: { plainHttpTo: ['10.0.0.0/8', '8.8.8.0/24', 'nonsense'] }, checks: {} }, 'cfg'));
    assert.deepEqual(p, ['alerting.plainHttpTo.1: 8.8.8.0/24 is not a private network: alerts cross the Internet over https only', 'alerting.plainHttpTo.2: "nonsense" is not a CIDR (like 10.0.0.0/8)']);
  });

  it('a secret set to the empty string counts as missing', () => {
    const c = parseConfig({ ...base, checks: { server: { url: 'http://127.0.0.1:3000', signalingUrl: 'ws://127.0.0.1:3000/signaling' } } }, 'cfg');
    assert.equal(problems(() => secretsFromEnv(c, { JWT_SECRET: '', ADMIN_TOKEN: 'a' }, 'cfg')).length, 1);
  });
});
