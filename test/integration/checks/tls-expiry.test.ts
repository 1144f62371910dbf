import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { TlsExpiryCheck } from '../../../lib/checks/tls-expiry.js';
import { freePort } from '../../helpers/process.js';
import { TestCa, days, type Issued } from '../../helpers/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-tls-'));
let ca: TestCa;
let otherCa: TestCa;
const servers: Server[] = [];

/** A TLS server on loopback serving `cert`, standing in for nginx on 443. */
async function serve(cert: Issued): Promise<number> {
  const server = createServer({ cert: readFileSync(cert.fullchainFile), key: readFileSync(cert.keyFile) }, (s) => s.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

async function check(port: number, opts: { servername?: string; certFile?: string; caFile?: string } = {}) {
  const c = new TlsExpiryCheck({
    targets: [{ host: '127.0.0.1', port, servername: opts.servername ?? 'rtc.test', certFile: opts.certFile }],
    warnDays: 21, criticalDays: 7, caFile: opts.caFile ?? ca.certFile, connectTimeoutMs: 2000,
  });
  const [r] = await c.run(new AbortController().signal);
  assert.ok(r);
  return r;
}

before(() => {
  ca = TestCa.create(join(dir, 'ca'));
  otherCa = TestCa.create(join(dir, 'other-ca'), '/CN=someone else');
});
after(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('tls-expiry: the certificate actually served, graded', () => {
  const cases: [string, () => Issued, 'ok' | 'warn' | 'critical', RegExp, { servername?: string }?][] = [
    ['60 days left', () => ca.issue('fresh', ['rtc.test'], days(-1), days(60)), 'ok', /valid for 59 more days, chain and name OK/],
    ['15 days left: warning', () => ca.issue('soon', ['rtc.test'], days(-1), days(15.5)), 'warn', /expires in 15 days \(warning below 21\)/],
    ['3 days left: critical', () => ca.issue('very-soon', ['rtc.test'], days(-1), days(3.5)), 'critical', /expires in 3 days \(critical below 7\)/],
    ['expired', () => ca.issue('expired', ['rtc.test'], days(-90), days(-2)), 'critical', /certificate expired on/],
    ['issued by an untrusted CA', () => otherCa.issue('untrusted', ['rtc.test'], days(-1), days(60)), 'critical', /chain is not valid: SELF_SIGNED_CERT_IN_CHAIN/],
    ['for another name', () => ca.issue('other-name', ['other.test'], days(-1), days(60)), 'critical', /does not cover rtc.test .*DNS:other.test/],
    ['a wildcard covers the name', () => ca.issue('wildcard', ['*.example.test'], days(-1), days(60)), 'ok', /chain and name OK/, { servername: 'turn.example.test' }],
  ];
  for (const [name, issue, status, message, opts] of cases) {
    it(`${name} → ${status}`, async () => {
      const r = await check(await serve(issue()), opts);
      assert.equal(r.status, status, r.message);
      assert.match(r.message, message);
    });
  }

  it('renewed on disk but not reloaded → warning naming both expiry dates', async () => {
    const old = ca.issue('served-old', ['rtc.test'], days(-80), days(30));
    const renewed = ca.issue('renewed', ['rtc.test'], days(-0.01), days(90));
    const port = await serve(old);
    const r = await check(port, { certFile: renewed.fullchainFile });
    assert.equal(r.status, 'warn');
    assert.match(r.message, /renewed but not reloaded: .*renewed.fullchain.pem expires .* still serves the certificate expiring/);
    assert.equal(r.values['servedIsCurrent'], false);

    const current = await check(await serve(renewed), { certFile: renewed.fullchainFile });
    assert.equal(current.status, 'ok', 'once reloaded, the served certificate is the one on disk');
    assert.equal(current.values['servedIsCurrent'], true);
  });

  it('an unreadable certificate file is a warning that says how to fix it', async () => {
    const r = await check(await serve(ca.issue('fine', ['rtc.test'], days(-1), days(60))), { certFile: join(dir, 'missing', 'fullchain.pem') });
    assert.equal(r.status, 'warn');
    assert.match(r.message, /cannot read the certificate on disk .*ENOENT.*read access/);
  });

  it('nothing listening → critical', async () => {
    const r = await check(await freePort());
    assert.equal(r.status, 'critical');
    assert.match(r.message, /no TLS on 127.0.0.1:\d+ \(ECONNREFUSED\)/);
  });
});
