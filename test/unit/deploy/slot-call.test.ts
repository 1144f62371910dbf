import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Outcome } from '../../../lib/checks/result.js';
import { callVerdict, gateCallOptions, gateCallPaths } from '../../../lib/deploy/slot-call.js';
import { slotBridgeArgv } from '../../../lib/deploy/slots.js';
import { exampleHost } from '../../fixtures/inventories/hosts.js';

const host = exampleHost('sandbox');
const slot = host.app.slots.b;
const paths = ['direct', 'relay:udp', 'relay:tls'];
const ok = (target: string): Outcome => ({ check: 'media-probe', target, status: 'ok', message: 'ok', values: { connectMs: 30, packetsSent: 25, packetsReceived: 25 } });
const bad = (target: string, message: string, values: Record<string, number> = {}): Outcome => ({ check: 'media-probe', target, status: 'critical', message, values });

describe('the gate\'s call through a slot', () => {
  test('takes the direct path, then relay-only through coturn over UDP and TLS, as the deploy (rtcops-deploy), stopping at the first failure', () => {
    const o = gateCallOptions(host, 'ws://127.0.0.1:1/signaling', { jwtSecret: 'j', turnSecret: 't', address: '10.0.0.5' });
    assert.deepEqual(gateCallPaths(host), paths);
    assert.deepEqual(o.relayUrls, [`turn:10.0.0.5:${host.turn.port}?transport=udp`, `turns:10.0.0.5:${host.turn.tlsPort}?transport=tcp`]);
    assert.deepEqual([o.probeName, o.stopAtFirstFailure, o.relayServername, o.iceAddress], ['rtcops-deploy', true, host.turn.domain, undefined]);
    assert.equal(gateCallOptions(host, '', { jwtSecret: '', turnSecret: '', address: '127.0.0.1' }).iceAddress, '127.0.0.1', 'a host on loopback: ICE candidates there');
    assert.match(gateCallOptions(host, '', { jwtSecret: '', turnSecret: '' }).relayUrls[0] ?? '', new RegExp(`^turn:${host.turn.domain}:`));
  });

  for (const [name, outcomes, expected] of [
    ['every path carried RTP: the counts', paths.map(ok), /^direct 25\/25 RTP, relay:udp 25\/25 RTP, relay:tls 25\/25 RTP$/],
    ['no ICE/DTLS on the direct path: its step, and what was not tried', [bad('direct', 'a direct call failed at ICE + DTLS: ICE/DTLS not connected within 3000 ms')], /^a call through slot b failed on the direct path: a direct call failed at ICE \+ DTLS: .* \(not tried: relay:udp, relay:tls\)$/],
    ['connected but no RTP: how long it waited', [ok('direct'), bad('relay:udp', 'x', { connectMs: 80, packetsSent: 25, packetsReceived: 0 })], /^a call through slot b failed on the relay:udp path: ICE and DTLS connected in 80 ms but no RTP came back within 2\.0s \(0 of 25 packets\) \(not tried: relay:tls\)$/],
    ['some RTP lost: the probe\'s own figures', [ok('direct'), ok('relay:udp'), bad('relay:tls', 'connected in 9 ms but only 3 of 25 RTP packets came back', { connectMs: 9, packetsSent: 25, packetsReceived: 3 })], /failed on the relay:tls path: connected in 9 ms but only 3 of 25/],
    ['a path without a result fails too', [ok('direct')], /^a call through slot b gave no result for relay:udp, relay:tls$/],
  ] as const) {
    test(name, () => {
      const v = callVerdict(slot, paths, [...outcomes]);
      assert.equal(v.ok, outcomes.length === 3 && outcomes.every((x) => x.status === 'ok'));
      assert.match(v.detail, expected);
    });
  }

  test('its signaling pipe runs as the app user, the port an argument (never in the program)', () => {
    const argv = slotBridgeArgv(host, 3001);
    assert.deepEqual(argv.slice(0, 4), ['runuser', '-u', host.app.user, '--']);
    assert.equal(argv.at(-1), '3001');
    assert.ok(!argv.at(-2)?.includes('3001'));
  });
});
