import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignalingClient, testEnv, token } from '../../helpers/server.js';
import { freePort, spawnServer } from '../../helpers/process.js';

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms))]);

describe('server process lifecycle', () => {
  it('SIGTERM with a peer connected: readyz flips to 503, peers are told, exit 0 within the drain timeout', async () => {
    const port = await freePort();
    const srv = spawnServer(testEnv({ PORT: String(port), DRAIN_TIMEOUT_MS: '1500' }));
    try {
      await srv.waitForLog('listening');
      const peer = await SignalingClient.connect(`ws://127.0.0.1:${port}/signaling?token=${token({ sub: 'alice', room: 'live' })}`);
      assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
      const sentAt = Date.now();
      srv.child.kill('SIGTERM');
      const notice = await peer.waitFor('serverDraining');
      assert.equal(notice.data['timeoutMs'], 1500);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { status: 'draining' });
      await assert.rejects(SignalingClient.connect(`ws://127.0.0.1:${port}/signaling?token=${token({ sub: 'bob', room: 'live' })}`), (e: { status?: number }) => e.status === 503);
      const { code } = await within(srv.exited, 5000, 'exit');
      assert.equal(code, 0);
      const took = Date.now() - sentAt;
      assert.ok(took >= 1400, `waited for the room to drain (${took} ms)`);
      assert.equal((await peer.closed).code, 1001);
      assert.ok(srv.logs.some((l) => l['event'] === 'drain_finished' && l['roomsLeft'] === 1));
    } finally {
      srv.child.kill('SIGKILL');
    }
  });

  it('SIGTERM: exits as soon as the last peer leaves, before the drain timeout', async () => {
    const port = await freePort();
    const srv = spawnServer(testEnv({ PORT: String(port), DRAIN_TIMEOUT_MS: '20000' }));
    try {
      await srv.waitForLog('listening');
      const peer = await SignalingClient.connect(`ws://127.0.0.1:${port}/signaling?token=${token({ sub: 'alice', room: 'live' })}`);
      srv.child.kill('SIGTERM');
      await peer.waitFor('serverDraining');
      await peer.close();
      const { code } = await within(srv.exited, 5000, 'exit after the room emptied');
      assert.equal(code, 0);
      assert.ok(srv.logs.some((l) => l['event'] === 'drain_finished' && l['roomsLeft'] === 0));
    } finally {
      srv.child.kill('SIGKILL');
    }
  });

  it('a mediasoup worker dying makes the process log why and exit non-zero (so PM2 restarts it)', async () => {
    const port = await freePort();
    const srv = spawnServer(testEnv({ PORT: String(port), NUM_WORKERS: '2' }));
    try {
      await srv.waitForLog('listening');
      const started = srv.logs.filter((l) => l['event'] === 'worker_started');
      const victim = started[1]?.['workerPid'] as number;
      process.kill(victim, 'SIGKILL');
      const died = await srv.waitForLog('worker_died');
      assert.equal(died['workerPid'], victim);
      assert.equal(died['worker'], 1);
      const { code } = await within(srv.exited, 5000, 'exit');
      assert.equal(code, 1);
    } finally {
      srv.child.kill('SIGKILL');
    }
  });

  it('signals PM2 "ready" once listening (wait_ready)', async () => {
    const { fork } = await import('node:child_process');
    const port = await freePort();
    const child = fork('server/main.ts', [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...testEnv({ PORT: String(port) }) } as NodeJS.ProcessEnv, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    try {
      const msg = await within(new Promise((resolve) => child.once('message', resolve)), 10000, 'ready message');
      assert.equal(msg, 'ready');
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, 'listening when ready is sent');
    } finally {
      child.kill('SIGKILL');
    }
  });

  const configErrors: [string, Record<string, string | undefined>, RegExp][] = [
    ['a missing JWT secret', { JWT_SECRET: undefined }, /^rtcops server: configuration error: JWT_SECRET: is required but not set/],
    ['an invalid RTC range', { RTC_MIN_PORT: '45000', RTC_MAX_PORT: '44000' }, /^rtcops server: configuration error: RTC_MIN_PORT: \(45000\) must not be greater than RTC_MAX_PORT/],
    ['a worker binary that does not exist', { MEDIASOUP_WORKER_BIN: '/nonexistent/mediasoup-worker' }, /^rtcops server: configuration error: MEDIASOUP_WORKER_BIN: "\/nonexistent\/mediasoup-worker" does not exist/],
  ];
  for (const [name, env, message] of configErrors) {
    it(`refuses to start with ${name}: one line naming the variable, exit 2`, async () => {
      const srv = spawnServer(testEnv(env));
      const { code } = await within(srv.exited, 10000, 'exit');
      assert.equal(code, 2);
      assert.match(srv.stderr(), message);
      assert.equal(srv.stderr().trim().split('\n').length, 1);
      assert.deepEqual(srv.logs, []);
    });
  }

  it('--check-config validates the environment and exits 0 without starting', async () => {
    const srv = spawnServer(testEnv(), ['--check-config']);
    const { code } = await within(srv.exited, 10000, 'exit');
    assert.equal(code, 0);
    assert.deepEqual(srv.logs, [{ raw: 'rtcops server: configuration OK' }]);
  });
});
