import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { test } from 'node:test';
import { peerBindAddress } from '../../../lib/checks/turn.js';

const nic = (address: string): NetworkInterfaceInfo => ({ address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: `${address}/24` });
const interfaces = { lo: [nic('127.0.0.1')], host0: [nic('10.77.0.2')] };

test('the TURN echo peer binds to the peer IP when it is one of this machine\'s addresses (replies must come from it)', () => {
  assert.equal(peerBindAddress('0.0.0.0', '10.77.0.2', interfaces), '10.77.0.2');
  assert.equal(peerBindAddress('0.0.0.0', '127.0.0.1', interfaces), '127.0.0.1');
});

test('a peer IP that is not local (a NAT cloud\'s public address) keeps the wildcard; an explicit bind address wins', () => {
  assert.equal(peerBindAddress('0.0.0.0', '203.0.113.10', interfaces), '0.0.0.0');
  assert.equal(peerBindAddress('10.77.0.2', '203.0.113.10', interfaces), '10.77.0.2');
});
