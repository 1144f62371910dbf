import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { daemonBundle } from '../../../lib/provision/artifacts.js';
import { MediaProbeCheck, type MediaProbeOptions } from '../../../lib/checks/media-probe.js';
import { runCheck } from '../../../lib/checks/result.js';
import { TestCa, days } from '../../helpers/certs.js';
import { startCoturn, type Coturn } from '../../helpers/coturn.js';
import { freePort } from '../../helpers/process.js';
import { JWT_SECRET, TURN_SECRET, startTestServer, type TestServer } from '../../helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-media-probe-'));

describe('media-probe: a real WebRTC call through the SFU, direct and forced through TURN over UDP, TCP and TLS', () => {
  let s: TestServer;
  let coturn: Coturn;
  let caFile: string;
  const relayUrls = () => [`turn:127.0.0.1:${coturn.port}?transport=udp`, `turn:127.0.0.1:${coturn.port}?transport=tcp`, `turns:127.0.0.1:${coturn.tlsPort}?transport=tcp`];
  const options = (over: Partial<MediaProbeOptions> = {}): MediaProbeOptions => ({
    signalingUrl: s.ws, jwtSecret: JWT_SECRET, turnSecret: TURN_SECRET, packets: 25, minReceivedPercent: 80,
    relayUrls: relayUrls(), relayServername: 'turn.rtcops.test', caFile, iceAddress: '127.0.0.1', timeoutMs: 20_000, ...over,
  });

  before(async () => {
    s = await startTestServer();
    const ca = TestCa.create(join(dir, 'ca'));
    caFile = ca.certFile;
    const cert = ca.issue('turn', ['turn.rtcops.test'], days(-1), days(40));
    coturn = await startCoturn({ dir, secret: TURN_SECRET, cert: cert.fullchainFile, key: cert.keyFile });
  });
  after(async () => {
    await coturn.stop();
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects and gets its RTP back intact, directly and relay-only through coturn over each transport', async () => {
    const results = await runCheck(new MediaProbeCheck(options()), 30_000);
    for (const r of results) console.log(`# ${r.target}: ${r.message}`);
    assert.deepEqual(results.map((r) => r.target), ['direct', 'relay:udp', 'relay:tcp', 'relay:tls']);
    for (const r of results) {
      assert.equal(r.status, 'ok', `${r.target}: ${r.message}`);
      assert.ok(Number(r.values['packetsReceived']) >= 20);
    }
  });

  it('a wrong TURN secret: the direct call works, the relayed one is critical at allocation, in seconds', async () => {
    const results = await runCheck(new MediaProbeCheck(options({ turnSecret: `wrong-${TURN_SECRET}`, relayUrls: relayUrls().slice(0, 1), timeoutMs: 9000 })), 15_000);
    const byTarget = Object.fromEntries(results.map((r) => [r.target, r]));
    assert.equal(byTarget['direct']?.status, 'ok');
    assert.equal(byTarget['relay:udp']?.status, 'critical');
    assert.match(byTarget['relay:udp']?.message ?? '', /failed at TURN allocation over UDP 127\.0\.0\.1:\d+: coturn rejected the credentials \(401\): TURN_SECRET does not match/);
    assert.ok((results[0]?.durationMs ?? Infinity) < 5000, `took ${results[0]?.durationMs} ms`);
  });

  it('a TURN port nobody answers on: the relayed call is critical, with where it failed', async () => {
    const [, r] = await runCheck(new MediaProbeCheck(options({ relayUrls: [`turn:127.0.0.1:${await freePort()}?transport=tcp`], timeoutMs: 9000 })), 15_000);
    assert.equal(r?.status, 'critical');
    assert.match(r?.message ?? '', /failed at TURN allocation over TCP 127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  it('the daemon bundled as provisioning installs it runs the probe (its worker thread loads the bundle itself)', async () => {
    process.env['RTCOPS_ARTIFACT_CACHE'] = join(dir, 'artifacts');
    const bundle = await daemonBundle();
    const config = join(dir, 'bundle.json');
    writeFileSync(config, JSON.stringify({ host: 'bundle', stateFile: join(dir, 'bundle-state.json'), checks: { 'media-probe': { signalingUrl: s.ws, relayUrls: relayUrls().slice(0, 1), iceAddress: '127.0.0.1' } } }));
    const r = await execa(process.execPath, [bundle.file, '--config', config, '--once', '--json'], { env: { JWT_SECRET, TURN_SECRET }, extendEnv: false, reject: false, timeout: 30_000 });
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as { results: { target: string; status: string }[] };
    assert.deepEqual(report.results.map((x) => `${x.target} ${x.status}`), ['direct ok', 'relay:udp ok']);
  });

  it('a wrong JWT secret: critical at signaling', async () => {
    const [r] = await runCheck(new MediaProbeCheck(options({ jwtSecret: 'z'.repeat(40), relayUrls: [] })), 10_000);
    assert.equal(r?.status, 'critical');
    assert.match(r?.message ?? '', /a direct call failed at signaling: WebSocket upgrade answered HTTP 401/);
  });
});
