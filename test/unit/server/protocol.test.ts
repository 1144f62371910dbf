import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { methodSchemas, requestEnvelope } from '../../../server/protocol.js';

describe('signaling message schemas', () => {
  const envelopes: [string, unknown, boolean][] = [
    ['numeric id', { id: 1, method: 'join', data: {} }, true],
    ['string id', { id: 'a1', method: 'join' }, true],
    ['no id', { method: 'join' }, false],
    ['negative id', { id: -1, method: 'join' }, false],
    ['unknown top-level key', { id: 1, method: 'join', extra: true }, false],
    ['data that is an array', { id: 1, method: 'join', data: [] }, false],
  ];
  for (const [name, msg, ok] of envelopes) it(`envelope: ${name} → ${ok ? 'accepted' : 'refused'}`, () => assert.equal(requestEnvelope.safeParse(msg).success, ok));

  const data: [keyof typeof methodSchemas, unknown, boolean][] = [
    ['createWebRtcTransport', { direction: 'send' }, true],
    ['createWebRtcTransport', { direction: 'sideways' }, false],
    ['connectTransport', { transportId: 't', dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD' }] } }, true],
    ['connectTransport', { transportId: 't', dtlsParameters: { fingerprints: [] } }, false],
    ['produce', { transportId: 't', kind: 'audio', rtpParameters: { codecs: [{}] } }, true],
    ['produce', { transportId: 't', kind: 'text', rtpParameters: { codecs: [{}] } }, false],
    ['produce', { transportId: 't', kind: 'audio', rtpParameters: { codecs: [] } }, false],
    ['pause', { consumerId: 'c' }, true],
    ['pause', { consumerId: 'c', producerId: 'p' }, false],
    ['closeProducer', {}, false],
    ['getRouterRtpCapabilities', { sneaky: 1 }, false],
  ];
  for (const [method, d, ok] of data) {
    it(`${method} ${JSON.stringify(d)} → ${ok ? 'accepted' : 'refused'}`, () => assert.equal(methodSchemas[method].safeParse(d).success, ok));
  }
});
