import assert from 'node:assert/strict';
import { test } from 'node:test';
import { directStunUrl } from '../../../lib/checks/media-call.js';

test('the direct call\'s STUN server is our own coturn, never werift\'s default (stun.l.google.com)', () => {
  assert.equal(directStunUrl(['turns:turn.example.com:5349?transport=tcp', 'turn:127.0.0.1:3478?transport=udp']), 'stun:127.0.0.1:3478');
  assert.equal(directStunUrl(['turn:10.77.0.2:3480?transport=tcp']), 'stun:10.77.0.2:3478');
  assert.equal(directStunUrl(['turn:[::1]:3478?transport=udp']), 'stun:[::1]:3478');
  assert.equal(directStunUrl([]), 'stun:127.0.0.1:3478');
});
