import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Attr, Class, Method, attr, decode, decodeXorAddress, encode, encodeXorAddress, errorCode, longTermKey, messageLength, messageType, verifyFingerprint, verifyIntegrity } from '../../../lib/turn/stun-message.js';

describe('STUN/TURN messages (RFC 5389, 5766)', () => {
  const types: [string, number, number, number][] = [
    ['Binding request', Method.Binding, Class.request, 0x0001],
    ['Binding success', Method.Binding, Class.success, 0x0101],
    ['Allocate error', Method.Allocate, Class.error, 0x0113],
    ['CreatePermission request', Method.CreatePermission, Class.request, 0x0008],
    ['Send indication', Method.Send, Class.indication, 0x0016],
    ['Data indication', Method.Data, Class.indication, 0x0017],
  ];
  for (const [name, method, cls, wire] of types) {
    it(`${name} is 0x${wire.toString(16).padStart(4, '0')} on the wire, and decodes back`, () => {
      assert.equal(messageType(method, cls), wire);
      const m = decode(encode({ method, cls, attributes: [] }));
      assert.deepEqual([m.method, m.cls], [method, cls]);
    });
  }

  const addresses: [string, string, number][] = [['IPv4', '203.0.113.7', 3478], ['IPv6', '2001:db8::1', 50000], ['IPv6 full', '2001:db8:1:2:3:4:5:6', 1]];
  for (const [name, ip, port] of addresses) {
    it(`XOR address round trip (${name})`, () => {
      const tx = randomBytes(12);
      assert.deepEqual(decodeXorAddress(encodeXorAddress({ ip, port }, tx), tx), { ip, port });
    });
  }

  it('XOR address of an IPv6 address with an IPv4 tail (::ffff:127.0.0.1) carries the IPv4 bytes', () => {
    const tx = randomBytes(12);
    assert.deepEqual(decodeXorAddress(encodeXorAddress({ ip: '::ffff:127.0.0.1', port: 9 }, tx), tx), { ip: '::ffff:7f00:1', port: 9 });
    assert.deepEqual(decodeXorAddress(encodeXorAddress({ ip: '64:ff9b::10.77.0.2', port: 9 }, tx), tx), { ip: '64:ff9b::a4d:2', port: 9 });
  });

  it('MESSAGE-INTEGRITY verifies with the long-term key and fails with another or after tampering', () => {
    const key = longTermKey('1700000000:probe', 'turn.example.com', 'pw');
    const packet = encode({ method: Method.Allocate, cls: Class.request, attributes: [[Attr.Username, Buffer.from('1700000000:probe')], [Attr.RequestedTransport, Buffer.from([17, 0, 0, 0])]] }, key);
    assert.equal(verifyIntegrity(packet, key), true);
    assert.equal(verifyIntegrity(packet, longTermKey('1700000000:probe', 'turn.example.com', 'other')), false);
    const tampered = Buffer.from(packet);
    tampered[30] = (tampered[30] ?? 0) ^ 1;
    assert.equal(verifyIntegrity(tampered, key), false);
    assert.equal(verifyFingerprint(packet), true);
    assert.equal(verifyFingerprint(tampered), false);
  });

  it('long-term key is MD5(username:realm:password)', () => {
    assert.equal(longTermKey('user', 'realm', 'pass').toString('hex'), '8493fbc53ba582fb4c044c456bdc40eb');
  });

  it('reads ERROR-CODE and knows when a stream holds a whole message', () => {
    const e = Buffer.concat([Buffer.from([0, 0, 4, 38]), Buffer.from('Stale Nonce')]);
    const packet = encode({ method: Method.Allocate, cls: Class.error, attributes: [[Attr.ErrorCode, e]] });
    assert.deepEqual(errorCode(decode(packet)), { code: 438, reason: 'Stale Nonce' });
    assert.equal(attr(decode(packet), Attr.Nonce), undefined);
    assert.equal(messageLength(packet.subarray(0, 10)), undefined);
    assert.equal(messageLength(packet.subarray(0, packet.length - 1)), undefined);
    assert.equal(messageLength(Buffer.concat([packet, packet])), packet.length);
  });
});
