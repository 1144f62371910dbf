import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignalingClient, clientDtlsParameters, opusRtpCapabilities, opusRtpParameters, startTestServer, token, type TestServer } from '../../helpers/server.js';

type Transport = { transportId: string; iceParameters: { usernameFragment: string; password: string } };

describe('what @rtcops/client needs from the server: pause/resume notices, ICE restart, transport stats', () => {
  let s: TestServer;
  let alice: SignalingClient;
  let bob: SignalingClient;
  let mallory: SignalingClient;
  let send: Transport;
  let producerId = '';
  before(async () => {
    s = await startTestServer();
    alice = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'alice', room: 'cm' })}`);
    bob = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'bob', room: 'cm' })}`);
    mallory = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'mallory', room: 'cm' })}`);
    for (const c of [alice, bob, mallory]) await c.request('join', { rtpCapabilities: opusRtpCapabilities });
    send = await alice.request<Transport>('createWebRtcTransport', { direction: 'send' });
    await alice.request('connectTransport', { transportId: send.transportId, dtlsParameters: clientDtlsParameters });
    producerId = (await alice.request<{ producerId: string }>('produce', { transportId: send.transportId, kind: 'audio', rtpParameters: opusRtpParameters(4242) })).producerId;
  });
  after(async () => { await s.stop(); });

  it('a producer paused and resumed: the other peers are told once each time, the producer\'s own peer is not', async () => {
    await alice.request('pause', { producerId });
    await alice.request('pause', { producerId });
    for (const c of [bob, mallory]) assert.deepEqual((await c.waitFor('producerPaused', (n) => n.data['producerId'] === producerId)).data, { producerId, peerId: 'alice' });
    await alice.request('resume', { producerId });
    await alice.request('resume', { producerId });
    await bob.waitFor('producerResumed', (n) => n.data['producerId'] === producerId);
    const count = (c: SignalingClient, name: string) => c.notifications.filter((n) => n.notification === name).length;
    assert.deepEqual([count(bob, 'producerPaused'), count(bob, 'producerResumed')], [1, 1], 'a second pause or resume of the same state sends nothing');
    assert.equal(count(alice, 'producerPaused'), 0);
  });

  it('restartIce gives the transport new ICE credentials', async () => {
    const { iceParameters } = await alice.request<{ iceParameters: Transport['iceParameters'] }>('restartIce', { transportId: send.transportId });
    assert.notEqual(iceParameters.usernameFragment, send.iceParameters.usernameFragment);
    assert.notEqual(iceParameters.password, send.iceParameters.password);
  });

  it('getTransportStats answers the server\'s view of the transport (nothing connected yet: ICE new, no tuple)', async () => {
    const st = await alice.request<Record<string, unknown>>('getTransportStats', { transportId: send.transportId });
    assert.equal(st['iceState'], 'new');
    assert.equal(st['selectedTuple'], null);
    assert.equal(typeof st['bytesReceived'], 'number');
  });

  it('another peer cannot pause, restart or read the stats of what is not its own', async () => {
    assert.equal((await mallory.call('pause', { producerId })).error?.code, 'not_found');
    assert.equal((await mallory.call('restartIce', { transportId: send.transportId })).error?.code, 'not_found');
    assert.equal((await mallory.call('getTransportStats', { transportId: send.transportId })).error?.code, 'not_found');
    assert.equal((await mallory.call('restartIce', { transportId: '../../etc' })).error?.code, 'bad_request');
    assert.equal(bob.notifications.filter((n) => n.notification === 'producerPaused').length, 1, 'no notice from a refused pause');
  });

  it('outside a test room, a peer still cannot consume its own producer', async () => {
    const recv = await alice.request<Transport>('createWebRtcTransport', { direction: 'recv' });
    const r = await alice.call('consume', { transportId: recv.transportId, producerId });
    assert.equal(r.error?.code, 'bad_request');
    assert.match(r.error?.message ?? '', /cannot consume its own producer/);
  });
});
