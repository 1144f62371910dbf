import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTurnUrl, turnPathName, turnUrls } from '../../../lib/turn/url.js';

describe('TURN URLs read the way WebRTC stacks read them', () => {
  const cases: [string, string, number, string][] = [
    ['turn:turn.example.com', 'udp', 3478, 'turn.example.com'],
    ['turn:turn.example.com:3478?transport=udp', 'udp', 3478, 'turn.example.com'],
    ['turn:turn.example.com:3478?transport=tcp', 'tcp', 3478, 'turn.example.com'],
    ['turns:turn.example.com', 'tls', 5349, 'turn.example.com'],
    ['turns:turn.example.com:443?transport=tcp', 'tls', 443, 'turn.example.com'],
    ['turn:127.0.0.1:40000', 'udp', 40000, '127.0.0.1'],
    ['turn:[2001:db8::1]:3478?transport=tcp', 'tcp', 3478, '2001:db8::1'],
  ];
  for (const [url, transport, port, host] of cases) {
    it(`${url} → ${transport} ${host}:${port}`, () => assert.deepEqual(parseTurnUrl(url), { url, transport, host, port }));
  }

  const bad: [string, RegExp][] = [
    ['stun:turn.example.com', /is not a turn: or turns: URL/],
    ['turn:turn.example.com?transport=sctp', /is not a turn: or turns: URL/],
    ['turns:turn.example.com?transport=udp', /turns: runs over TLS, never UDP/],
    ['turn:', /is not a turn: or turns: URL/],
  ];
  for (const [url, message] of bad) it(`refuses ${url}`, () => assert.throws(() => parseTurnUrl(url), message));
});

describe('how checks name a relay path (turnPathName)', () => {
  const cases: [string, string][] = [
    ['turn:turn.example.com:3478?transport=udp', 'udp'],
    ['turn:turn.example.com:3478?transport=tcp', 'tcp'],
    ['turns:turn.example.com:5349?transport=tcp', 'tls'],
    // nginx's router (turn.tls443): a path of its own, so both TLS paths are checked and alerted on apart.
    ['turns:turn.example.com:443?transport=tcp', 'tls-443'],
  ];
  for (const [url, name] of cases) it(`${url} → ${name}`, () => assert.equal(turnPathName(parseTurnUrl(url)), name));
});

describe('the TURN URLs a host offers (turnUrls): one list for /turn-credentials, the daemon and check.mjs', () => {
  it('UDP and TCP on turn.port, TLS on turn.tlsPort, then TLS on 443 when nginx routes it', () => {
    assert.deepEqual(turnUrls('turn.example.com', { port: 3478, tlsPort: 5349, tls443: true }), [
      'turn:turn.example.com:3478?transport=udp',
      'turn:turn.example.com:3478?transport=tcp',
      'turns:turn.example.com:5349?transport=tcp',
      'turns:turn.example.com:443?transport=tcp',
    ]);
    assert.deepEqual(turnUrls('203.0.113.7', { port: 3479, tlsPort: 5350, tls443: false }), [
      'turn:203.0.113.7:3479?transport=udp',
      'turn:203.0.113.7:3479?transport=tcp',
      'turns:203.0.113.7:5350?transport=tcp',
    ]);
  });
  it('brackets an IPv6 literal, so each URL reads back as the address it was built from', () => {
    for (const url of turnUrls('2001:db8::1', { port: 3478, tlsPort: 5349, tls443: true })) assert.equal(parseTurnUrl(url).host, '2001:db8::1');
    assert.equal(turnUrls('[2001:db8::1]', { port: 3478, tlsPort: 5349, tls443: false })[0], 'turn:[2001:db8::1]:3478?transport=udp');
  });
});
