import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { describe, test } from 'node:test';
import { InventoryError, loadInventory, parseInventory, selectHost, type ResolvedHost } from '../../../lib/inventory/index.js';
import { EXAMPLE_INVENTORY, exampleWithProd } from '../../fixtures/inventories/hosts.js';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InventoryError);
    return error.issues.map((i) => `${i.line ?? '-'}: ${i.path}: ${i.message}`);
  }
  assert.fail('expected an InventoryError');
}

function at(host: ResolvedHost, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], host);
}

describe('the example inventory.yaml', () => {
  const sandbox = selectHost(loadInventory(EXAMPLE_INVENTORY), 'sandbox');
  const cases: [path: string, value: unknown][] = [
    ['os', 'debian-12'],
    ['ssh.address', '10.77.0.2'],
    ['ssh.port', 22],
    ['ssh.user', 'rtcops'],
    ['ssh.keyPath', `${homedir()}/.cache/rtcops/sandbox/id_ed25519`],
    ['ssh.knownHostsFile', `${homedir()}/.cache/rtcops/sandbox/known_hosts`],
    ['ssh.sudo', true],
    ['adminCidrs', ['10.77.0.1/32']],
    ['acme.directoryUrl', 'https://10.77.0.1:14000/dir'],
    ['acme.caBundle', `${homedir()}/.cache/rtcops/sandbox/pebble-ca.pem`],
    ['app.root', '/srv/rtcops'],
    ['app.envFile', '/srv/rtcops/shared/rtcops.env'],
    ['app.outLog', '/srv/rtcops/shared/logs/rtcops.out.log'],
    ['app.script', '/srv/rtcops/current/dist/server/main.js'],
    ['tls.names', ['rtc.sandbox.test', 'turn.sandbox.test']],
    ['tls.fullchain', '/etc/letsencrypt/live/rtc.sandbox.test/fullchain.pem'],
    ['mediasoup.announcedIp', '10.77.0.2'],
    ['turn.realm', 'turn.sandbox.test'],
    ['turn.externalIp', '10.77.0.2'],
    ['turn.allowedPeerIps', ['10.77.0.2']],
    ['sshd.allowUsers', ['rtcops']],
    ['sshd.permitRootLogin', 'no'],
    ['fail2ban.sshdBackend', 'systemd'],
    ['pm2.killTimeoutMs', 35000],
    ['nginx.hsts', false],
    ['secrets.file', `${homedir()}/.cache/rtcops/sandbox/secrets.yaml`],
    ['secrets.jwtSecret', { key: 'jwt_secret' }],
    ['secrets.adminToken', { key: 'admin_token' }],
    ['secrets.turnSecret', { key: 'turn_secret' }],
  ];
  for (const [path, value] of cases) test(`sandbox ${path} = ${JSON.stringify(value)}`, () => assert.deepEqual(at(sandbox, path), value));

  test('its commented prod example is valid when uncommented', () => {
    const prod = selectHost(parseInventory(exampleWithProd(), EXAMPLE_INVENTORY), 'prod');
    assert.equal(prod.os, 'ubuntu-22.04');
    assert.equal(prod.fail2ban.sshdBackend, 'auth.log');
    assert.equal(prod.mediasoup.webRtcServerPort, 44444);
    assert.equal(prod.secrets.file, `${EXAMPLE_INVENTORY.replace(/inventory\.yaml$/, '')}prod.secrets.yaml`);
  });
});

const layered = (host: string) => `
defaults:
  app: { port: 3001, logLevel: warn }
  turn: { userQuota: 1 }
  adminCidrs: [192.0.2.0/24]
groups:
  eu:
    app: { port: 3002 }
    turn: { userQuota: 2, totalQuota: 20 }
    pm2: { logRetain: 7 }
  big:
    app: { port: 3003, numWorkers: 4 }
hosts:
  one:
${host}
    ssh: { address: 198.51.100.1, user: deploy, keyPath: ./id, fingerprint: "SHA256:FmdugJhXwX678SqBTAWFZ290VqeBb8HqVmN5wXZ/iJk" }
    app: { domains: [rtc.example.com] }
    mediasoup: { announcedIp: 198.51.100.1 }
    turn: { domain: turn.example.com }
    acme: { email: ops@example.com }
    secrets: { jwtSecret: { env: A }, adminToken: { env: B }, turnSecret: { env: C } }
`;

describe('layers merge defaults < groups in listed order < host', () => {
  const load = (hostLines: string) => selectHost(parseInventory(layered(hostLines), '/inv/inventory.yaml'), 'one');
  const cases: [name: string, hostLines: string, path: string, value: unknown][] = [
    ['defaults apply when nothing overrides', '', 'app.port', 3001],
    ['a group overrides defaults', '    groups: [eu]', 'app.port', 3002],
    ['the later group wins', '    groups: [eu, big]', 'app.port', 3003],
    ['the earlier group keeps keys the later does not set', '    groups: [big, eu]', 'app.numWorkers', 4],
    ['mappings merge key by key', '    groups: [eu]', 'app.logLevel', 'warn'],
    ['a group value reaches the host', '    groups: [eu]', 'pm2.logRetain', 7],
    ['a host key overrides its groups', '    groups: [eu]\n    pm2: { logRetain: 3 }', 'pm2.logRetain', 3],
    ['schema defaults fill what no layer sets', '', 'turn.maxBps', 500000],
    ['lists are replaced, not appended', '    adminCidrs: [203.0.113.0/24]', 'adminCidrs', ['203.0.113.0/24']],
    ['relative paths resolve against the inventory folder', '', 'ssh.keyPath', '/inv/id'],
  ];
  for (const [name, hostLines, path, value] of cases) test(name, () => assert.deepEqual(at(load(hostLines), path), value));
});

describe('errors name the place to fix', () => {
  test('a value set in a group is reported at the group line', () => {
    const text = layered('    groups: [eu]').replace('turn: { userQuota: 2, totalQuota: 20 }', 'turn: { userQuota: -2 }');
    assert.deepEqual(issuesOf(() => parseInventory(text, 'inventory.yaml')), ['9: groups.eu.turn.userQuota: must be at least 0']);
  });

  test('every problem is reported at once', () => {
    const text = layered('').replace('port: 3001', 'port: 0').replace('[192.0.2.0/24]', '[192.0.2.0/40]').replace('logLevel: warn', 'logLevel: loud');
    assert.deepEqual(issuesOf(() => parseInventory(text, 'inventory.yaml')), [
      '5: defaults.adminCidrs[0]: "192.0.2.0/40" is not a CIDR (like 203.0.113.0/24 or 2001:db8::/32)',
      '3: defaults.app.port: must be at least 1',
      '3: defaults.app.logLevel: must be one of fatal, error, warn, info, debug, trace',
    ]);
  });

  test('an unknown host suggests the nearest name', () => {
    const inventory = loadInventory(EXAMPLE_INVENTORY);
    assert.deepEqual(issuesOf(() => selectHost(inventory, 'sandbx')), ['-: hosts: no host "sandbx" (did you mean "sandbox"?); hosts: sandbox']);
  });

  test('a missing inventory file says so', () => {
    assert.deepEqual(issuesOf(() => loadInventory('/nonexistent/inventory.yaml')), ['-: : cannot read the inventory: ENOENT']);
  });
});

describe('a problem in a merged value points at the layer that set it', () => {
  test('a relay range set in a group, reversed, is reported at the group line under the host path', () => {
    const text = layered('    groups: [eu]').replace('turn: { userQuota: 2, totalQuota: 20 }', 'turn: { relayPorts: { min: 50000, max: 40000 } }');
    assert.deepEqual(issuesOf(() => parseInventory(text, 'inventory.yaml')), ['9: hosts.one.turn.relayPorts: min 50000 must be < max 40000']);
  });
});

describe('connecting as root', () => {
  const host = selectHost(parseInventory(layered('').replace('user: deploy', 'user: root'), '/inv/inventory.yaml'), 'one');
  const cases: [path: string, value: unknown][] = [
    ['ssh.sudo', false],
    ['sshd.allowUsers', ['root']],
    ['sshd.permitRootLogin', 'prohibit-password'],
  ];
  for (const [path, value] of cases) test(`${path} = ${JSON.stringify(value)}`, () => assert.deepEqual(at(host, path), value));
});
