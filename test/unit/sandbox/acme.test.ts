import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadInventory, selectHost } from '../../../lib/inventory/index.js';
import { isEmbeddedSandbox } from '../../../lib/provision/embedded-sandbox.js';
import { acmeEndpoints, challtestsrvArgv, pebbleArgv, pebbleConfig } from '../../../lib/sandbox/acme.js';
import { layoutFor } from '../../../lib/sandbox/layout.js';
import { secretsFileContent } from '../../../lib/sandbox/secrets.js';
import { EXAMPLE_INVENTORY } from '../../fixtures/inventories/hosts.js';

const layout = layoutFor('sandbox', '/state', 0);

describe('the sandbox ACME server (pebble)', () => {
  it('keeps its CA in the state directory and its per-instance files beside the instance', () => {
    assert.deepEqual(
      [layout.acmeCaPath, layout.acmeCaKeyPath, layout.acmeDir, layout.secretsPath],
      ['/state/pebble-ca.pem', '/state/pebble-ca.key', '/state/instances/sandbox/acme', '/state/secrets.yaml'],
    );
  });

  it('listens on the bridge address only, and answers every name with the guest address', () => {
    const config = JSON.parse(pebbleConfig(layout)).pebble;
    assert.equal(config.listenAddress, '10.77.0.1:14000');
    assert.equal(config.managementListenAddress, '10.77.0.1:15000');
    assert.equal(config.certificate, '/state/instances/sandbox/acme/server.pem');
    assert.deepEqual(pebbleArgv(layout), ['pebble', '-config', '/state/instances/sandbox/acme/pebble.json', '-dnsserver', '10.77.0.1:8053']);
    const argv = challtestsrvArgv(layout);
    const flag = (name: string) => argv[argv.indexOf(name) + 1];
    assert.equal(flag('-defaultIPv4'), '10.77.0.2');
    assert.equal(flag('-dns01'), '10.77.0.1:8053');
    assert.equal(flag('-management'), '10.77.0.1:8055');
    for (const unused of ['-defaultIPv6', '-http01', '-https01', '-tlsalpn01']) assert.equal(flag(unused), '', `${unused} off`);
  });

  it('is what the example inventory\'s sandbox group points at (directory, CA bundle, secrets file)', () => {
    const host = selectHost(loadInventory(EXAMPLE_INVENTORY), 'sandbox');
    const own = layoutFor('sandbox', join(homedir(), '.cache', 'rtcops', 'sandbox'), 0);
    const acme = acmeEndpoints(own);
    assert.equal(host.acme.directoryUrl, acme.directoryUrl);
    assert.equal(host.acme.caBundle, acme.caFile);
    assert.equal(host.secrets.file, own.secretsPath);
    assert.equal(host.ssh.address, own.address);
    assert.equal(isEmbeddedSandbox(host), true);
    assert.equal(isEmbeddedSandbox({ ...host, name: 'other' }), false);
    assert.equal(isEmbeddedSandbox({ ...host, ssh: { ...host.ssh, address: '10.77.9.2' } }), false);
  });

  it('takes a host for the built-in sandbox only when it is reached like it: its user, key and pinned host keys', () => {
    const host = selectHost(loadInventory(EXAMPLE_INVENTORY), 'sandbox');
    const cases: [string, Partial<typeof host.ssh>][] = [
      ['another key', { keyPath: '/home/op/.ssh/id_ed25519' }],
      ['another known_hosts', { knownHostsFile: '/home/op/.ssh/known_hosts' }],
      ['a host key pinned by fingerprint instead', { knownHostsFile: undefined, fingerprint: 'SHA256:FmdugJhXwX678SqBTAWFZ290VqeBb8HqVmN5wXZ/iJk' }],
      ['another user', { user: 'admin' }],
      ['another port', { port: 2222 }],
    ];
    for (const [why, ssh] of cases) assert.equal(isEmbeddedSandbox({ ...host, ssh: { ...host.ssh, ...ssh } }), false, why);
    assert.equal(isEmbeddedSandbox(host, '/elsewhere'), false, 'a sandbox state directory other than the one the inventory names');
  });
});

describe('the sandbox secrets file', () => {
  it('holds the three keys, quoted, with the generator\'s values', () => {
    let n = 0;
    const text = secretsFileContent(() => `value${++n}`);
    assert.match(text, /^jwt_secret: "value1"\nadmin_token: "value2"\nturn_secret: "value3"\n$/m);
  });
});
