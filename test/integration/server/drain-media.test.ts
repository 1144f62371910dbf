import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RTCPeerConnectionConfig } from 'werift';
import { AudioReceiver, AudioSender, connected, probePayload } from '../../../lib/media-probe/audio-peer.js';
import type { TransportParams } from '../../../lib/media-probe/sdp.js';
import { freePort } from '../../helpers/process.js';
import { SignalingClient, opusRtpCapabilities, testEnv, token } from '../../helpers/server.js';
import { startStunResponder } from '../../helpers/stun-responder.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const stun = await startStunResponder();
after(() => stun.close());
const loopbackOnly: RTCPeerConnectionConfig = { iceServers: [{ urls: stun.url }], iceUseIpv6: false, iceInterfaceAddresses: { udp4: '127.0.0.1' }, iceAdditionalHostAddresses: ['127.0.0.1'] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => { try { process.kill(pid, 0); return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; } };

/** The server as its own process group leader, so a test can signal the whole group the way Ctrl-C does. */
function startServerGroup(env: Record<string, string>): { child: ChildProcess; logs: Record<string, unknown>[]; exited: Promise<number | null>; waitFor: (event: string) => Promise<Record<string, unknown>> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: root, detached: true, stdio: ['ignore', 'pipe', 'inherit'],
    env: { PATH: process.env['PATH'], MEDIASOUP_WORKER_BIN: process.env['MEDIASOUP_WORKER_BIN'], ...env },
  });
  const logs: Record<string, unknown>[] = [];
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) if (l.trim() !== '') logs.push(JSON.parse(l) as Record<string, unknown>);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = async (event: string) => {
    for (let i = 0; i < 200; i++) {
      const seen = logs.find((l) => l['event'] === event);
      if (seen !== undefined) return seen;
      await sleep(50);
    }
    throw new Error(`no "${event}" log line`);
  };
  return { child, logs, exited, waitFor };
}

/** Every process below `pid`, read from /proc (what PM2's treekill signals one by one). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      parent.set(Number(entry), ppid);
    } catch { /* exited meanwhile */ }
  }
  const below = (p: number): number[] => [...parent].filter(([, pp]) => pp === p).flatMap(([c]) => [c, ...below(c)]);
  return below(pid);
}

type Delivery = 'the server process' | 'the process group (Ctrl-C)' | 'every process in the tree, one by one (PM2 treekill)';
type Ending = 'the peers leave' | 'DRAIN_TIMEOUT_MS passes';

const cases: [NodeJS.Signals, Delivery, Ending][] = [
  ['SIGTERM', 'the server process', 'the peers leave'],
  ['SIGINT', 'the server process', 'DRAIN_TIMEOUT_MS passes'],
  ['SIGINT', 'the process group (Ctrl-C)', 'the peers leave'],
  ['SIGTERM', 'every process in the tree, one by one (PM2 treekill)', 'DRAIN_TIMEOUT_MS passes'],
];

describe('a drain keeps a real call\'s media flowing', () => {
  for (const [signal, delivery, ending] of cases) {
    it(`${signal} to ${delivery}: RTP keeps arriving until ${ending}, then exit 0 with no worker left`, async () => {
      const port = await freePort();
      const srv = startServerGroup(testEnv({ PORT: String(port), NUM_WORKERS: '1', DRAIN_TIMEOUT_MS: '3000', LOG_LEVEL: 'info' }) as Record<string, string>);
      let sender: AudioSender | undefined;
      let receiver: AudioReceiver | undefined;
      try {
        await srv.waitFor('listening');
        const workerPid = (await srv.waitFor('worker_started'))['workerPid'] as number;
        const url = (sub: string) => `ws://127.0.0.1:${port}/signaling?token=${token({ sub, room: 'call' })}`;
        const [alice, bob] = [await SignalingClient.connect(url('alice')), await SignalingClient.connect(url('bob'))];
        await alice.request('join', { rtpCapabilities: opusRtpCapabilities });
        await bob.request('join', { rtpCapabilities: opusRtpCapabilities });
        const sendT = await alice.request<TransportParams>('createWebRtcTransport', { direction: 'send' });
        sender = await AudioSender.create(sendT, loopbackOnly);
        await alice.request('connectTransport', { transportId: sendT.transportId, dtlsParameters: sender.dtlsParameters });
        const { producerId } = await alice.request<{ producerId: string }>('produce', { transportId: sendT.transportId, kind: 'audio', rtpParameters: sender.rtpParameters });
        const recvT = await bob.request<TransportParams>('createWebRtcTransport', { direction: 'recv' });
        const consumer = await bob.request<{ consumerId: string; rtpParameters: Parameters<typeof AudioReceiver.create>[1]['rtpParameters'] }>('consume', { transportId: recvT.transportId, producerId });
        receiver = await AudioReceiver.create(recvT, consumer, loopbackOnly);
        await bob.request('connectTransport', { transportId: recvT.transportId, dtlsParameters: receiver.dtlsParameters });
        await Promise.all([connected(sender.pc, 10_000), connected(receiver.pc, 10_000)]);
        await bob.request('resume', { consumerId: consumer.consumerId });

        let index = 0;
        let sending = true;
        const s = sender;
        const pump = (async () => { while (sending) { await s.send(probePayload(index++)); await sleep(20); } })();
        await sleep(500);
        assert.ok(receiver.received.length > 10, `media flows before the signal (${receiver.received.length} packets)`);

        const firstAfter = index;
        if (delivery === 'the server process') process.kill(srv.child.pid as number, signal);
        else if (delivery === 'the process group (Ctrl-C)') process.kill(-(srv.child.pid as number), signal);
        else for (const pid of [srv.child.pid as number, ...descendants(srv.child.pid as number)]) process.kill(pid, signal);
        await alice.waitFor('serverDraining');
        await sleep(1500);
        const sentDuring = index - firstAfter;
        const r = receiver;
        const arrivedDuring = r.received.filter((p) => p.readUInt32BE(0) >= firstAfter).length;
        assert.ok(alive(workerPid), 'the mediasoup worker is still running while the server drains');
        assert.ok(arrivedDuring >= sentDuring * 0.9, `RTP kept arriving through the drain: ${arrivedDuring} of ${sentDuring} packets`);
        assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 503);
        console.log(`# ${signal} to ${delivery}: ${arrivedDuring}/${sentDuring} RTP packets forwarded during the drain`);

        if (ending === 'the peers leave') await Promise.all([alice.close(), bob.close()]);
        else assert.deepEqual([(await alice.closed).code, (await bob.closed).code], [1001, 1001]);
        sending = false;
        await pump;
        assert.equal(await srv.exited, 0);
        assert.ok(srv.logs.some((l) => l['event'] === 'drain_finished' && l['roomsLeft'] === (ending === 'the peers leave' ? 0 : 1)));
        for (let i = 0; i < 40 && alive(workerPid); i++) await sleep(50);
        assert.equal(alive(workerPid), false, 'the worker ended with the server');
      } finally {
        await sender?.close();
        await receiver?.close();
        try { process.kill(-(srv.child.pid as number), 'SIGKILL'); } catch { /* already gone */ }
      }
    });
  }

  it('a server killed with SIGKILL leaves no worker behind (the blocked signals do not make a worker outlive its server)', async () => {
    const srv = startServerGroup(testEnv({ PORT: String(await freePort()), NUM_WORKERS: '2' }) as Record<string, string>);
    try {
      await srv.waitFor('listening');
      const workers = srv.logs.filter((l) => l['event'] === 'worker_started').map((l) => l['workerPid'] as number);
      assert.equal(workers.length, 2);
      srv.child.kill('SIGKILL');
      await srv.exited;
      for (let i = 0; i < 40 && workers.some(alive); i++) await sleep(50);
      assert.deepEqual(workers.filter(alive), []);
    } finally {
      try { process.kill(-(srv.child.pid as number), 'SIGKILL'); } catch { /* already gone */ }
    }
  });
});
