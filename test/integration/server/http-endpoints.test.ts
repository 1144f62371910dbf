import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { pathTricks, rawRequest } from '../../helpers/raw-http.js';
import { ADMIN_TOKEN, JWT_SECRET, SignalingClient, TURN_SECRET, opusRtpCapabilities, startTestServer, token, type TestServer } from '../../helpers/server.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('HTTP endpoints on the signaling port', () => {
  let s: TestServer;
  let peer: SignalingClient;
  before(async () => {
    s = await startTestServer({ NUM_WORKERS: '2' });
    peer = await SignalingClient.connect(`${s.ws}?token=${token({ sub: 'alice', room: 'r1' })}`);
    await peer.request('join', { rtpCapabilities: opusRtpCapabilities });
    await peer.request('createWebRtcTransport', { direction: 'send' });
  });
  after(async () => { await peer.close(); await s.stop(); });

  it('/healthz answers 200 cheaply', async () => {
    const r = await fetch(`${s.http}/healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { status: 'ok' });
  });

  it('/readyz answers 200 while every worker can create a router', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${s.http}/readyz`)).status, 200);
  });

  it('/status refuses without the admin token, or with a wrong one', async () => {
    assert.equal((await fetch(`${s.http}/status`)).status, 401);
    assert.equal((await fetch(`${s.http}/status`, { headers: { authorization: `Bearer ${JWT_SECRET}` } })).status, 401);
    assert.ok(s.logs.some((l) => l['event'] === 'admin_rejected'));
  });

  it('/status with the admin token: rooms, peers, per-worker figures, process figures — and no secrets', async () => {
    const r = await fetch(`${s.http}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.status, 200);
    const text = await r.text();
    const st = JSON.parse(text);
    assert.equal(st.rooms, 1);
    assert.equal(st.peers, 1);
    assert.equal(st.draining, false);
    assert.equal(st.workers.length, 2);
    assert.equal(st.workers.reduce((n: number, w: { transports: number }) => n + w.transports, 0), 1);
    for (const w of st.workers) {
      assert.equal(w.alive, true);
      assert.equal(typeof w.cpuSeconds, 'number');
      assert.ok(w.maxRssBytes > 0);
    }
    assert.ok(st.process.rssBytes > 0 && st.process.heapUsedBytes > 0);
    assert.equal(typeof st.process.eventLoopLagMs.p99, 'number');
    assert.deepEqual(st.roomList.map((r: { room: string; peers: number }) => [r.room, r.peers]), [['r1', 1]]);
    for (const secret of [JWT_SECRET, ADMIN_TOKEN, TURN_SECRET]) assert.ok(!text.includes(secret));
    assert.ok(!/fingerprint|ice-pwd|usernameFragment|password/i.test(text), 'no ICE/DTLS secrets or SDP');
    assert.ok(s.logs.some((l) => l['event'] === 'admin_access'));
  });

  it('/metrics refuses without the admin token, or with a wrong one, and says what to send', async () => {
    const r = await fetch(`${s.http}/metrics`);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    assert.deepEqual(await r.json(), { error: 'admin token required for /metrics: send "Authorization: Bearer <ADMIN_TOKEN>"' });
    assert.equal((await fetch(`${s.http}/metrics`, { headers: { authorization: `Bearer ${JWT_SECRET}` } })).status, 401);
    assert.equal((await fetch(`${s.http}/metrics`, { headers: { authorization: ADMIN_TOKEN } })).status, 401, 'the Bearer scheme is required');
    assert.ok(s.logs.some((l) => l['event'] === 'admin_rejected' && l['path'] === '/metrics'));
  });

  it('/metrics is valid Prometheus text (promtool) with the server\'s figures, given the admin token', async () => {
    const r = await fetch(`${s.http}/metrics`, { headers: admin });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    // promtool exits 1 on a parse error and 3 on lint findings; prom-client's own nodejs_* gauges have lint findings.
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.ok(lint.status === 0 || lint.status === 3, `promtool could not parse /metrics: ${lint.stderr}${lint.error?.message ?? ''}`);
    assert.deepEqual(lint.stderr.split('\n').filter((l) => l.startsWith('rtcops_')), [], 'no lint findings on our own metrics');
    assert.match(text, /^rtcops_rooms 1$/m);
    assert.match(text, /^rtcops_peers 1$/m);
    assert.match(text, /^rtcops_worker_alive\{worker="1"\} 1$/m);
    assert.match(text, /^rtcops_join_successes_total 1$/m);
    assert.match(text, /^rtcops_signaling_request_duration_seconds_count\{method="join",outcome="ok"\} 1$/m);
    assert.match(text, /^process_resident_memory_bytes \d+/m);
  });

  it('/turn-credentials needs a valid token', async () => {
    assert.equal((await fetch(`${s.http}/turn-credentials`)).status, 401);
    assert.equal((await fetch(`${s.http}/turn-credentials?token=garbage`)).status, 401);
  });

  it('/turn-credentials mints coturn REST credentials for the token\'s subject', async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await fetch(`${s.http}/turn-credentials`, { headers: { authorization: `Bearer ${token({ sub: 'alice', room: 'r1' })}` } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const c = await r.json() as { username: string; password: string; ttl: number; iceServers: { urls: string[]; username: string; credential: string }[] };
    const [expiry, user] = c.username.split(':');
    assert.equal(user, 'alice');
    assert.ok(Number(expiry) >= before + c.ttl && Number(expiry) <= before + c.ttl + 2);
    assert.equal(c.password, createHmac('sha1', TURN_SECRET).update(c.username).digest('base64'));
    assert.deepEqual(c.iceServers, [{ urls: s.cfg.turn?.urls, username: c.username, credential: c.password }]);
  });

  it('unknown paths are 404 and writes are 405', async () => {
    assert.equal((await fetch(`${s.http}/nope`)).status, 404);
    assert.equal((await fetch(`${s.http}/status`, { method: 'POST' })).status, 405);
  });

  it('routes on the exact raw path: no path trick reaches /metrics or /status, with the admin token or without', async () => {
    const to = { host: '127.0.0.1', port: s.port };
    const reached: string[] = [];
    for (const target of [...pathTricks('/metrics'), ...pathTricks('/status'), ...pathTricks('/healthz', '/turn-credentials')]) {
      for (const headers of [{}, admin]) {
        const r = await rawRequest(to, target, headers);
        if (![400, 404].includes(r.status) || /rtcops_|"roomList"|"status"/.test(r.body)) reached.push(`${JSON.stringify(target)} -> ${r.status} ${r.body.slice(0, 80)}`);
      }
    }
    assert.deepEqual(reached, []);
    assert.equal((await rawRequest(to, '/metrics', admin)).status, 200, 'the exact path still answers');
  });

  it('an ambiguous target is a 400 that says why', async () => {
    const cases = [
      ['/signaling\\..\\metrics', 'a backslash'],
      ['/%6detrics', 'a percent-encoded byte'],
      ['//metrics', 'a doubled slash'],
      ['/signaling/../metrics', 'a dot segment'],
      ['/healthz/.', 'a dot segment'],
      ['/metrics#x', 'a fragment'],
      ['http://localhost/metrics', 'must be a path starting with /'],
    ];
    for (const [target, why] of cases) {
      const r = await rawRequest({ host: '127.0.0.1', port: s.port }, target ?? '', admin);
      assert.equal(r.status, 400, String(target));
      assert.match(JSON.parse(r.body).error, new RegExp(`^ambiguous request target refused: .*${why ?? ''}`), String(target));
    }
    // Node's HTTP parser refuses these before any route (raw-path.ts refuses them too, should one get through).
    for (const target of ['/metrics\xff', '/metrics\x01', '/\xe2\x80\xaemetrics']) assert.equal((await rawRequest({ host: '127.0.0.1', port: s.port }, target, admin)).status, 400, JSON.stringify(target));
    assert.equal((await rawRequest({ host: '127.0.0.1', port: s.port }, '/healthz?room=a%20b')).status, 200, 'percent-encoding in the query is fine');
  });

  it('a WebSocket upgrade is admitted on the exact /signaling only', async () => {
    const upgrade = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    const q = `?token=${token({ sub: 'u', room: 'r1' })}`;
    const paths = ['/signaling/', '/signaling/.', '/x/../signaling', '/%73ignaling', '//signaling', '/Signaling', '/signaling;x', '/signaling\\'];
    const statuses = Object.fromEntries(await Promise.all(paths.map(async (p) => [p, (await rawRequest({ host: '127.0.0.1', port: s.port }, `${p}${q}`, upgrade)).status])));
    assert.deepEqual(statuses, { '/signaling/': 404, '/signaling/.': 400, '/x/../signaling': 400, '/%73ignaling': 400, '//signaling': 400, '/Signaling': 404, '/signaling;x': 404, '/signaling\\': 400 });
    const ws = new WebSocket(`${s.ws}${q}`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.close();
  });
});

describe('a server without TURN configured', () => {
  it('answers /turn-credentials with 404 and says why', async () => {
    const s = await startTestServer({ TURN_SECRET: undefined, TURN_URLS: undefined });
    try {
      const r = await fetch(`${s.http}/turn-credentials?token=${token({ sub: 'a', room: 'r' })}`);
      assert.equal(r.status, 404);
      assert.match(((await r.json()) as { error: string }).error, /TURN is not configured/);
    } finally {
      await s.stop();
    }
  });
});
