import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { methodSchemas, requestEnvelope } from '../../../server/protocol.js';

const fp = (bytes: number) => Array(bytes).fill('AB').join(':');
const dtls = (fingerprints: unknown[], role: unknown = 'client') => ({ transportId: 't', dtlsParameters: { role, fingerprints } });
const opus = { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 };
const produce = (rtp: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ transportId: 't', kind: 'audio', rtpParameters: { codecs: [opus], ...rtp }, ...extra });
const enc = (e: Record<string, unknown>) => produce({ encodings: [{ ssrc: 1, ...e }] });
const caps = (c: Record<string, unknown>) => ({ rtpCapabilities: { codecs: [{ kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2, ...c }] } });

describe('signaling message schemas', () => {
  const envelopes: [string, unknown, boolean][] = [
    ['numeric id', { id: 1, method: 'join', data: {} }, true],
    ['string id', { id: 'a1', method: 'join' }, true],
    ['no id', { method: 'join' }, false],
    ['negative id', { id: -1, method: 'join' }, false],
    ['fractional id', { id: 1.5, method: 'join' }, false],
    ['unknown top-level key', { id: 1, method: 'join', extra: true }, false],
    ['data that is an array', { id: 1, method: 'join', data: [] }, false],
  ];
  for (const [name, msg, ok] of envelopes) it(`envelope: ${name} → ${ok ? 'accepted' : 'refused'}`, () => assert.equal(requestEnvelope.safeParse(msg).success, ok));

  const data: [keyof typeof methodSchemas, string, unknown, boolean][] = [
    ['createWebRtcTransport', 'send', { direction: 'send' }, true],
    ['createWebRtcTransport', 'sideways', { direction: 'sideways' }, false],
    ['createWebRtcTransport', 'asking for SCTP (not offered)', { direction: 'send', enableSctp: true }, false],
    ['connectTransport', 'a sha-256 fingerprint', dtls([{ algorithm: 'sha-256', value: fp(32) }]), true],
    ['connectTransport', 'a sha-512 fingerprint', dtls([{ algorithm: 'sha-512', value: fp(64) }]), true],
    ['connectTransport', 'no fingerprints', dtls([]), false],
    ['connectTransport', 'a fingerprint too short for its algorithm', dtls([{ algorithm: 'sha-256', value: fp(20) }]), false],
    ['connectTransport', 'an unknown algorithm', dtls([{ algorithm: 'md5', value: fp(16) }]), false],
    ['connectTransport', 'a fingerprint that is not hex', dtls([{ algorithm: 'sha-1', value: 'zz:'.repeat(19) + 'zz' }]), false],
    ['connectTransport', 'a null role', dtls([{ algorithm: 'sha-256', value: fp(32) }], null), false],
    ['connectTransport', 'a null fingerprint', dtls([null]), false],
    ['produce', 'Opus as a browser sends it', produce({ mid: '0', encodings: [{ ssrc: 1234 }], rtcp: { cname: 'abc', reducedSize: true } }), true],
    ['produce', 'simulcast with browser-only encoding fields', produce({ encodings: [{ rid: 'r0', maxBitrate: 100000, scaleResolutionDownBy: 4, active: true }, { rid: 'r1', maxBitrate: 300000, scalabilityMode: 'L1T3' }] }), true],
    ['produce', 'a codec without payloadType', produce({ codecs: [{ mimeType: 'audio/opus', clockRate: 48000 }] }), false],
    ['produce', 'no codecs', produce({ codecs: [] }), false],
    ['produce', 'a video codec on an audio producer', produce({ codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }] }), false],
    ['produce', 'kind "text"', produce({}, { kind: 'text' }), false],
    ['produce', 'a payload type over 127', produce({ codecs: [{ ...opus, payloadType: 300 }] }), false],
    ['produce', 'a fractional clock rate', produce({ codecs: [{ ...opus, clockRate: 48000.5 }] }), false],
    ['produce', 'two codecs with one payload type', produce({ codecs: [opus, { ...opus, mimeType: 'audio/PCMU', clockRate: 8000 }] }), false],
    ['produce', 'a codec parameter that is an object', produce({ codecs: [{ ...opus, parameters: { useinbandfec: { a: 1 } } }] }), false],
    ['produce', 'a codec parameter that is null', produce({ codecs: [{ ...opus, parameters: { useinbandfec: null } }] }), false],
    ['produce', 'an integer codec parameter over 32 bits', produce({ codecs: [{ ...opus, parameters: { maxplaybackrate: 2 ** 40 } }] }), false],
    ['produce', 'a fractional codec parameter', produce({ codecs: [{ ...opus, parameters: { ptime: 2.5 } }] }), true],
    ['produce', 'an apt that is a string', produce({ codecs: [{ ...opus, parameters: { apt: '111' } }] }), false],
    ['produce', 'encodings[0].maxBitrate null (the crash in issue 15)', enc({ maxBitrate: null }), false],
    ['produce', 'encodings[0].maxBitrate 1.5', enc({ maxBitrate: 1.5 }), false],
    ['produce', 'encodings[0].maxBitrate "x"', enc({ maxBitrate: 'x' }), false],
    ['produce', 'encodings[0].maxBitrate {}', enc({ maxBitrate: {} }), false],
    ['produce', 'encodings[0].maxBitrate negative', enc({ maxBitrate: -1 }), false],
    ['produce', 'encodings[0].maxBitrate 1e300', enc({ maxBitrate: 1e300 }), false],
    ['produce', 'an SSRC over 32 bits', enc({ ssrc: 2 ** 32 }), false],
    ['produce', 'an SSRC of 0', enc({ ssrc: 0 }), false],
    ['produce', 'an RTX SSRC equal to the media SSRC', enc({ rtx: { ssrc: 1 } }), false],
    ['produce', 'an RTX without an SSRC', enc({ rtx: {} }), false],
    ['produce', 'dtx "yes"', enc({ dtx: 'yes' }), false],
    ['produce', 'a scalability mode that is not one', enc({ scalabilityMode: 'fast' }), false],
    ['produce', 'a codecPayloadType of no codec', enc({ codecPayloadType: 100 }), false],
    ['produce', 'an unknown encoding field', enc({ whatever: 1 }), false],
    ['produce', 'an encoding that is null', produce({ encodings: [null] }), false],
    ['produce', 'nine encodings', produce({ encodings: Array.from({ length: 9 }, (_, i) => ({ ssrc: i + 1 })) }), false],
    ['produce', 'an unknown header extension', produce({ headerExtensions: [{ uri: 'urn:x', id: 1 }] }), false],
    ['produce', 'a header extension id of 0', produce({ headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 0 }] }), false],
    ['produce', 'two header extensions with one id', produce({ headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1 }, { uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 1 }] }), false],
    ['produce', 'rtcp that is a string', produce({ rtcp: 'x' }), false],
    ['produce', 'a 300-character CNAME', produce({ rtcp: { cname: 'c'.repeat(300) } }), false],
    ['produce', 'a numeric mid', produce({ mid: 0 }), false],
    ['produce', 'a small flat appData', produce({}, { appData: { share: true, label: 'screen' } }), true],
    ['produce', 'a nested appData', produce({}, { appData: { a: { b: 1 } } }), false],
    ['produce', 'an appData with 17 keys', produce({}, { appData: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])) }), false],
    ['join', 'device capabilities', caps({}), true],
    ['join', 'a capability without preferredPayloadType', caps({ preferredPayloadType: undefined }), false],
    ['join', 'a capability whose kind contradicts its mimeType', caps({ kind: 'video' }), false],
    ['join', 'a capability with 300 channels', caps({ channels: 300 }), false],
    ['join', 'an RTCP feedback type that is a number', caps({ rtcpFeedback: [{ type: 1 }] }), false],
    ['join', 'a display name with a newline', { ...caps({}), displayName: 'a\nb' }, false],
    ['consume', 'without capabilities (the ones sent with join are used)', { transportId: 't', producerId: 'p' }, true],
    ['consume', 'an id that is an object', { transportId: { $ne: 1 }, producerId: 'p' }, false],
    ['pause', 'a consumer', { consumerId: 'c' }, true],
    ['pause', 'a consumer and a producer at once', { consumerId: 'c', producerId: 'p' }, false],
    ['closeProducer', 'no producerId', {}, false],
    ['refreshToken', 'a token', { token: 'eyJ' }, true],
    ['refreshToken', 'no token', {}, false],
    ['getRouterRtpCapabilities', 'an unexpected field', { sneaky: 1 }, false],
  ];
  for (const [method, name, d, ok] of data) {
    it(`${method}: ${name} → ${ok ? 'accepted' : 'refused'}`, () => assert.equal(methodSchemas[method].safeParse(d).success, ok));
  }

  it('drops the browser-only encoding fields mediasoup would ignore', () => {
    const parsed = methodSchemas.produce.parse(enc({ scaleResolutionDownBy: 2, active: true, maxBitrate: 5000 }));
    assert.deepEqual(parsed.rtpParameters.encodings, [{ ssrc: 1, maxBitrate: 5000 }]);
  });

  it('fills a capability\'s kind from its mimeType, as mediasoup\'s ortc does', () => {
    const parsed = methodSchemas.join.parse(caps({ kind: undefined }));
    assert.equal(parsed.rtpCapabilities.codecs?.[0]?.kind, 'audio');
  });
});
