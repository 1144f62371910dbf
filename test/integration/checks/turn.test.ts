import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TlsExpiryCheck } from '../../../lib/checks/tls-expiry.js';
import { TurnCheck, type TurnCheckOptions } from '../../../lib/checks/turn.js';
import type { Outcome } from '../../../lib/checks/result.js';
import { TestCa, days } from '../../helpers/certs.js';
import { startCoturn, type Coturn } from '../../helpers/coturn.js';
import { freePort } from '../../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-turn-'));
const SECRET = `test-turn-secret-${randomBytes(16).toString('hex')}`;
let ca: TestCa;
let cert: { fullchainFile: string; keyFile: string };
let coturn: Coturn;

function options(over: Partial<TurnCheckOptions> = {}): TurnCheckOptions {
  return {
    host: '127.0.0.1', servername: 'turn.rtcops.test', port: coturn.port, tlsPort: coturn.tlsPort, transports: ['udp', 'tcp', 'tls'],
    secret: SECRET, caFile: ca.certFile, requestTimeoutMs: 1500, peerIp: '127.0.0.1', peerBindIp: '127.0.0.1', privatePeerIp: '10.255.0.1',
    rttWarnMs: 500, announcedIp: '127.0.0.1', externalIp: '127.0.0.1', dnsName: 'localhost', ...over,
  };
}
const byTarget = (results: Outcome[]) => Object.fromEntries(results.map((r) => [r.target, r]));
const run = async (o: TurnCheckOptions) => byTarget(await new TurnCheck(o).run());
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

before(async () => {
  ca = TestCa.create(join(dir, 'ca'));
  cert = ca.issue('turn', ['turn.rtcops.test'], days(-1), days(40));
  coturn = await startCoturn({ dir, secret: SECRET, cert: cert.fullchainFile, key: cert.keyFile });
});
after(async () => {
  await coturn.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('turn: a real coturn on loopback', () => {
  it('healthy: Binding, Allocate, permission, relayed round trip and a refused private peer over UDP, TCP and TLS', async () => {
    const r = await run(options());
    for (const t of ['udp', 'tcp', 'tls']) {
      assert.equal(r[t]?.status, 'ok', r[t]?.message);
      assert.match(r[t]?.message ?? '', new RegExp(`TURN over ${t.toUpperCase()} 127.0.0.1:\\d+: allocated, relayed data in [\\d.]+ ms, private peers refused`));
      assert.equal(typeof r[t]?.values['rttMs'], 'number');
      assert.equal(r[t]?.values['relayedIp'], '127.0.0.1');
    }
    assert.equal(r['public-ip']?.status, 'ok', r['public-ip']?.message);
  });

  it('a fixed echo port (daemon.turnEchoPort): the relayed round trip passes, also for two runs at once (--once beside the daemon)', async () => {
    const peerPort = await freeUdpPort();
    const [a, b] = await Promise.all([run(options({ peerPort })), run(options({ peerPort }))]);
    for (const r of [a, b]) for (const t of ['udp', 'tcp', 'tls']) assert.match(r[t]?.message ?? '', /relayed data in [\d.]+ ms/, `${t}: ${r[t]?.message}`);
  });

  it('an echo port another socket holds → critical, naming the address and port', async () => {
    const holder = createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
    try {
      const peerPort = holder.address().port;
      const r = await run(options({ peerPort, transports: ['udp'] }));
      assert.equal(r['udp']?.status, 'critical');
      assert.match(r['udp']?.message ?? '', new RegExp(`cannot bind the echo peer of the relayed round trip to 127\\.0\\.0\\.1:${peerPort}/udp: .*EADDRINUSE`));
      assert.equal(r['public-ip']?.status, 'ok', 'the drift check still runs');
    } finally {
      holder.close();
    }
  });

  it('the certificate coturn serves on its TLS port is graded like nginx\'s', async () => {
    const [r] = await new TlsExpiryCheck({ targets: [{ host: '127.0.0.1', port: coturn.tlsPort, servername: 'turn.rtcops.test', certFile: cert.fullchainFile }], warnDays: 21, criticalDays: 7, caFile: ca.certFile, connectTimeoutMs: 2000 }).run(new AbortController().signal);
    assert.equal(r?.status, 'ok', r?.message);
    assert.equal(r?.values['protocol'], 'TLSv1.2');
  });

  const failures: [string, () => Partial<TurnCheckOptions>, string[], RegExp][] = [
    ['a wrong TURN secret', () => ({ secret: `wrong-${SECRET}` }), ['udp', 'tcp', 'tls'], /rejected the credentials over (UDP|TCP|TLS) 127.0.0.1:\d+ \(401\): TURN_SECRET does not match coturn's static-auth-secret/],
    ['a blocked or closed UDP port', () => ({ transports: ['udp'], requestTimeoutMs: 600 }), ['udp'], /coturn does not answer STUN over UDP 127.0.0.1:\d+ within 600 ms: is coturn running and the port open\?/],
    ['a closed TLS port', () => ({ transports: ['tls'] }), ['tls'], /cannot connect to coturn over TLS 127.0.0.1:\d+ \(ECONNREFUSED\): is coturn running and the port open\?/],
    ['a TLS certificate the daemon does not trust', () => ({ transports: ['tls'], caFile: undefined }), ['tls'], /cannot connect to coturn over TLS .*(UNABLE_TO_VERIFY|SELF_SIGNED|unable to verify)/i],
    ['a drifted public IP', () => ({ transports: ['udp'], announcedIp: '127.0.0.2' }), ['public-ip'], /public IP drift: coturn's external-ip 127.0.0.1 differs from the announced IP 127.0.0.2; .*localhost resolves to .*, not the announced IP 127.0.0.2/],
  ];
  for (const [name, over, targets, message] of failures) {
    it(`${name} → critical`, async () => {
      const o = options(over());
      if (name.includes('UDP port')) o.port = await freePort();
      if (name.includes('closed TLS')) o.tlsPort = await freePort();
      const r = await run(o);
      for (const t of targets) {
        assert.equal(r[t]?.status, 'critical', `${t}: ${r[t]?.message}`);
        assert.match(r[t]?.message ?? '', message);
        assert.ok(!(r[t]?.message ?? '').includes(SECRET), 'the secret is never in a message');
      }
    });
  }

  it('a coturn that relays to private addresses → critical on every transport', async () => {
    const open = await startCoturn({ dir, secret: SECRET, cert: cert.fullchainFile, key: cert.keyFile, denyPrivatePeers: false });
    try {
      const r = await run(options({ port: open.port, tlsPort: open.tlsPort }));
      for (const t of ['udp', 'tcp', 'tls']) {
        assert.equal(r[t]?.status, 'critical');
        assert.match(r[t]?.message ?? '', /coturn relays to the private address 10.255.0.1 over .*add denied-peer-ip ranges/);
      }
    } finally {
      await open.stop();
    }
  });

  it('coturn stopped → critical on every transport', async () => {
    const c = await startCoturn({ dir, secret: SECRET, cert: cert.fullchainFile, key: cert.keyFile });
    await c.stop();
    const r = await run(options({ port: c.port, tlsPort: c.tlsPort, requestTimeoutMs: 600 }));
    assert.match(r['udp']?.message ?? '', /coturn does not answer STUN over UDP/);
    assert.match(r['tcp']?.message ?? '', /cannot connect to coturn over TCP .*ECONNREFUSED/);
    assert.match(r['tls']?.message ?? '', /cannot connect to coturn over TLS .*ECONNREFUSED/);
  });
});
