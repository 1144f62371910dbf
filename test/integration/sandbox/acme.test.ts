import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sandboxDown, sandboxStatus, sandboxUp, streamProgress, type SandboxUpResult } from '../../../lib/sandbox/index.js';
import { holdSandbox } from '../../helpers/sandbox.js';
import { bridgeListeners, hostSnapshot, type HostSnapshot, stateDir } from './harness.js';

// A sandbox of its own with the ACME server the default one gets (tests never touch the operator's "sandbox").
const name = 'acme-test';
const options = { name, acme: true, stateDir, progress: streamProgress(process.stderr, `sandbox ${name}`) };

function getJson(url: string, ca: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, timeout: 5_000 }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('the sandbox ACME server: pebble on the bridge, stopped by down', { timeout: 10 * 60_000 }, () => {
  let clean: HostSnapshot;
  let up: SandboxUpResult;
  let release: () => void;
  let index: number;

  before(async () => {
    release = await holdSandbox(name, stateDir);
    await sandboxDown(options);
    clean = hostSnapshot(name);
  });
  after(async () => {
    await sandboxDown(options);
    release();
  });

  it('up starts pebble and its DNS on the bridge address only, with the CA and secrets file the inventory names', async () => {
    up = await sandboxUp(options);
    assert.ok(up.acme, 'the default sandbox has an ACME server');
    index = Number(up.hostAddress.split('.')[2]);
    assert.equal(up.acme.directoryUrl, `https://${up.hostAddress}:14000/dir`);
    assert.equal(up.acme.issuerRootsFile, path.join(stateDir, `pebble-roots-${name}.pem`));
    assert.equal(up.acme.caFile, path.join(stateDir, 'pebble-ca.pem'));
    assert.equal(up.secretsFile, path.join(stateDir, 'secrets.yaml'));
    assert.equal(fs.statSync(up.secretsFile).mode & 0o777, 0o600);

    // Trusting only the kept CA: the listener's certificate is for the bridge address.
    const directory = await getJson(up.acme.directoryUrl, fs.readFileSync(up.acme.caFile, 'utf8'));
    assert.ok(String(directory.newAccount).startsWith(`https://${up.hostAddress}:14000/`), String(directory.newAccount));
    const resolver = new dns.Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([up.acme.dnsServer]);
    assert.deepEqual(await resolver.resolve4('rtc.sandbox.test'), [up.address], 'every name resolves to the guest');

    const listening = bridgeListeners(index).filter((l) => /:(14000|15000|8053|8055)$/.test(l));
    const at = (proto: string, port: number) => `${proto} ${up.hostAddress}:${port}`;
    assert.deepEqual(listening, [at('tcp', 14000), at('tcp', 15000), at('tcp', 8053), at('tcp', 8055), at('udp', 8053)].sort());
    const status = await sandboxStatus(options);
    assert.equal(status.acme?.answering, true);
  });

  it('up on the running sandbox keeps it; a pebble that died is started again', async () => {
    const before_ = await sandboxStatus(options);
    const again = await sandboxUp(options);
    assert.equal(again.alreadyRunning, true);
    assert.equal((await sandboxStatus(options)).acme?.pebblePid, before_.acme?.pebblePid);
    process.kill(before_.acme?.pebblePid ?? 0, 'SIGKILL');
    assert.equal((await sandboxStatus(options)).acme?.answering, false);
    await sandboxUp(options);
    const restarted = await sandboxStatus(options);
    assert.equal(restarted.acme?.answering, true);
    assert.notEqual(restarted.acme?.pebblePid, before_.acme?.pebblePid);
  });

  it('down stops pebble and pebble-challtestsrv (nothing listens on the bridge); the CA and secrets stay', async () => {
    const ca = sha256(up.acme?.caFile ?? '');
    const secrets = sha256(up.secretsFile);
    const down = await sandboxDown(options);
    assert.ok(down.removed.includes('ACME server (pebble, pebble-challtestsrv)'), down.removed.join(', '));
    assert.deepEqual(hostSnapshot(name), clean);
    assert.deepEqual(bridgeListeners(index), []);
    assert.equal(sha256(up.acme?.caFile ?? ''), ca);
    assert.equal(sha256(up.secretsFile), secrets);
  });
});
