import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { probeReach, readProbeCa } from '../../../lib/inventory/index.js';
import { exampleHost } from '../../fixtures/inventories/hosts.js';

describe('how check.mjs and the deploy gate reach a host (probeReach)', () => {
  test('the sandbox\'s .test names cannot resolve: its ssh.address is probed, with a note saying so', () => {
    const r = probeReach(exampleHost('sandbox'), {});
    assert.equal(r.address, '10.77.0.2');
    assert.match(r.note ?? '', /rtc\.sandbox\.test, turn\.sandbox\.test are not in public DNS: probing 10\.77\.0\.2/);
  });

  test('public names go through DNS unless --probe-direct; asking for it needs no note', () => {
    const host = exampleHost('sandbox');
    host.app.domains = ['rtc.example.com'];
    host.turn.domain = 'turn.example.com';
    assert.deepEqual([probeReach(host, {}).address, probeReach(host, {}).note], [undefined, undefined]);
    assert.deepEqual([probeReach(host, { probeDirect: true }).address, probeReach(host, { probeDirect: true }).note], ['10.77.0.2', undefined]);
  });

  test('one public name is enough to use DNS', () => {
    const host = exampleHost('sandbox');
    host.app.domains = ['rtc.example.com'];
    assert.equal(probeReach(host, {}).address, undefined);
  });

  test('trust: --ca-file, else acme.issuerRoots, else the system roots', () => {
    const host = exampleHost('sandbox');
    host.acme.issuerRoots = '/x/pebble-roots.pem';
    assert.equal(probeReach(host, {}).caFile, '/x/pebble-roots.pem');
    assert.equal(probeReach(host, { caFile: '/y/ca.pem' }).caFile, '/y/ca.pem');
    host.acme.issuerRoots = undefined;
    assert.equal(probeReach(host, {}).caFile, undefined);
  });

  test('a missing roots file is an error that says how to get it', () => {
    const host = exampleHost('sandbox');
    assert.throws(() => readProbeCa(host, '/nonexistent/sandbox/pebble-roots.pem', false), /acme\.issuerRoots of sandbox .* cannot be read \(ENOENT\): start the sandbox and its ACME server: npx zx scripts\/sandbox\.mjs up/);
    assert.throws(() => readProbeCa(host, '/nonexistent/ca.pem', true), /--ca-file \/nonexistent\/ca\.pem: cannot read it \(ENOENT\)/);
    const dir = mkdtempSync(join(tmpdir(), 'rtcops-reach-'));
    writeFileSync(join(dir, 'ca.pem'), 'PEM');
    assert.equal(readProbeCa(host, join(dir, 'ca.pem'), true)?.toString(), 'PEM');
    assert.equal(readProbeCa(host, undefined, false), undefined);
  });
});
