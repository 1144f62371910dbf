/**
 * Deploy benchmark on a sandbox host of its own (--name, default "bench-dep"), the figures the deploy issue asks
 * for, measured in one run under load:
 *  - the load, through nginx as callers see it: GET /healthz every 50 ms; three signed-in peers in one room; a new
 *    caller joining a fresh room every second (getRouterRtpCapabilities + join, then leave); and a real WebRTC call
 *    (werift: Opus published and consumed back through the SFU, direct) that spans the deploy, its RTP counted;
 *  - a healthy deploy: failed HTTP requests, refused joins, calls dropped (sockets of the three peers closed by the
 *    server before the drain deadline), RTP packets of the spanning call received, the time from the deploy's start
 *    to nginx on the new release, and the deploy's total time;
 *  - rollback.mjs right after it (back to a release that served: the gate, no watch): its time;
 *  - each bad release (crash on start, readyz failing, signaling broken, no media): failed requests while it is
 *    refused, and that the previous release kept serving.
 * Everything runs on this machine (the sandbox shares its cores). A failed step prints what failed and exits 1.
 *
 *   node --import tsx bench/deploy.ts [--name bench-dep] [--os debian-12]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { MediaCalls } from '../lib/checks/media-call.js';
import { buildArtifact } from '../lib/deploy/artifact.js';
import { deployMain, rollbackMain } from '../lib/deploy/command.js';
import type { DeployReport } from '../lib/deploy/engine.js';
import { provisionMain } from '../lib/provision/command.js';
import { sandboxDown, sandboxUp, type SandboxOs } from '../lib/sandbox/index.js';
import { brokenArtifact } from '../test/helpers/broken-release.js';
import { startPebble } from '../test/helpers/pebble.js';
import { sandboxInventoryYaml } from '../test/helpers/sandbox-inventory.js';

const { values } = parseArgs({ options: { name: { type: 'string', default: 'bench-dep' }, os: { type: 'string', default: 'debian-12' } } });
const NAME = values.name;
const OS = values.os as SandboxOs;
const REPO = resolve(import.meta.dirname, '..');
const DOMAIN = 'rtc.sandbox.test';
const secret = (k: string) => { process.env[k] = randomBytes(32).toString('hex'); return process.env[k]!; };
const jwtSecret = secret('BENCH_DEPLOY_JWT_SECRET');
secret('BENCH_DEPLOY_ADMIN_TOKEN');
const turnSecret = secret('BENCH_DEPLOY_TURN_SECRET');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function log(line: string): void {
  process.stderr.write(`[bench:deploy ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** GET /healthz through nginx every 50 ms, each on its own connection: failures are non-200 answers or none in 10 s. */
function poller(address: string, ca: Buffer) {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const once = () => new Promise<void>((done) => {
    const req = httpsRequest({ host: address, servername: DOMAIN, port: 443, path: '/healthz', headers: { host: DOMAIN }, ca, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => { if (res.statusCode === 200) ok++; else failures.push(`HTTP ${res.statusCode}`); done(); });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', (e) => { failures.push(e.message); done(); });
    req.end();
  });
  const loop = (async () => { while (running) { await once(); await sleep(50); } })();
  return { stop: async () => { running = false; await loop; return { ok, failures }; } };
}

function connect(address: string, ca: Buffer, sub: string, room: string): Promise<WebSocket> {
  const token = jwt.sign({ sub, room }, jwtSecret, { algorithm: 'HS256', expiresIn: 600 });
  const ws = new WebSocket(`wss://${DOMAIN}/signaling`, { ca, headers: { authorization: `Bearer ${token}` }, lookup: (_n, o, cb) => (o.all === true ? (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family: 4 }]) : cb(null, address, 4)) });
  return new Promise((ok, fail) => { ws.once('open', () => ok(ws)); ws.once('error', fail); ws.once('unexpected-response', (_q, res) => fail(new Error(`HTTP ${res.statusCode}`))); });
}

async function joinRoom(ws: WebSocket): Promise<void> {
  const ask = (id: number, method: string, data: object) => new Promise<Record<string, unknown>>((ok, fail) => {
    const on = (raw: WebSocket.RawData) => {
      const m = JSON.parse(raw.toString()) as { id?: number; ok?: boolean; data?: Record<string, unknown>; error?: { code: string } };
      if (m.id !== id) return;
      ws.off('message', on);
      if (m.ok === false) fail(new Error(m.error?.code ?? 'refused')); else ok(m.data ?? {});
    };
    ws.on('message', on);
    ws.send(JSON.stringify({ id, method, data }));
  });
  const caps = await ask(1, 'getRouterRtpCapabilities', {});
  await ask(2, 'join', { rtpCapabilities: { codecs: caps['codecs'] ?? [], headerExtensions: [] } });
}

/** A new caller every second in a fresh room, joined then gone: what is refused (an error or no socket). */
function joiner(address: string, ca: Buffer) {
  let running = true;
  let joined = 0;
  const refused: string[] = [];
  let n = 0;
  const loop = (async () => {
    while (running) {
      const t0 = Date.now();
      try {
        const ws = await connect(address, ca, `bench-caller-${n}`, `bench-room-${n++}`);
        await joinRoom(ws);
        joined++;
        ws.close();
      } catch (e) {
        refused.push((e as Error).message);
      }
      await sleep(Math.max(0, 1000 - (Date.now() - t0)));
    }
  })();
  return { stop: async () => { running = false; await loop; return { joined, refused }; } };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rtcops-bench-deploy-'));
  log(`sandbox ${NAME} (${OS}) up`);
  await sandboxDown({ name: NAME });
  const sb = await sandboxUp({ name: NAME, os: OS });
  try {
    const acme = await startPebble(sb.hostAddress, sb.address);
    const inventory = join(dir, 'inventory.yaml');
    const caFile = join(dir, 'issuer-root.pem');
    try {
      writeFileSync(inventory, sandboxInventoryYaml(NAME, OS, sb, {
        secretsEnv: { jwtSecret: 'BENCH_DEPLOY_JWT_SECRET', adminToken: 'BENCH_DEPLOY_ADMIN_TOKEN', turnSecret: 'BENCH_DEPLOY_TURN_SECRET' },
        acme: { directoryUrl: acme.directoryUrl, caBundle: acme.caFile }, app: { drainTimeoutMs: 3000 },
        deploy: { keepReleases: 8, gateTimeoutSec: 10, watchSec: 10, drainWaitSec: 20 },
      }));
      log('provision (the health daemon left out: its probes would open rooms the drain counts)');
      let out = '';
      if (await provisionMain([NAME, '-i', inventory, '--skip', 'daemon'], { out: (t) => { out += t; }, err: (t) => { out += `${t}\n`; } }) !== 0) throw new Error(`provision failed:\n${out.slice(-3000)}`);
      writeFileSync(caFile, await acme.issuerRoot());
    } finally {
      await acme.stop();
    }
    const ca = readFileSync(caFile);
    const cli = async (main: typeof deployMain, args: string[]): Promise<{ code: number; report: DeployReport }> => {
      let text = '';
      const code = await main([NAME, '-i', inventory, '--json', '--probe-direct', '--ca-file', caFile, ...args], { out: (t) => { text += t; }, err: () => undefined });
      return { code, report: (JSON.parse(text) as { hosts: DeployReport[] }).hosts[0]! };
    };
    log('first deploy (HEAD)');
    const good = (await buildArtifact({ repo: REPO, ref: 'HEAD', os: OS })).file;
    const first = await cli(deployMain, ['--artifact', good]);
    if (first.code !== 0) throw new Error(`the first deploy failed: ${first.report.error}`);

    // The healthy deploy, under load.
    log('load: poller, three peers in a call, a caller a second, a real call spanning the deploy');
    const peers = await Promise.all([0, 1, 2].map(async (i) => { const ws = await connect(sb.address, ca, `bench-peer-${i}`, 'standup'); await joinRoom(ws); return ws; }));
    const dropped: { at: number; code: number }[] = [];
    for (const ws of peers) ws.once('close', (code) => dropped.push({ at: Date.now(), code }));
    const poll = poller(sb.address, ca);
    const joins = joiner(sb.address, ca);
    const packets = 2000; // 20 ms apart: a 40 s call, started before the deploy and on the old release until its drain ends
    const call = new MediaCalls({ signalingUrl: `wss://${DOMAIN}/signaling`, address: sb.address, ca: ca.toString(), jwtSecret, turnSecret, packets, minReceivedPercent: 0, relayUrls: [], timeoutMs: 120_000, probeName: 'bench-call' }).run();
    await sleep(8000);
    log('healthy deploy');
    const t0 = Date.now();
    const healthy = await cli(deployMain, ['--artifact', good]);
    const deployMs = Date.now() - t0;
    const [polled, joined, outcome] = await Promise.all([poll.stop(), joins.stop(), call]);
    // The old release stops when its drain ends: a peer closed before that was dropped.
    const phaseEnd = (name: string) => { const i = healthy.report.phases.findIndex((p) => p.phase === name); return t0 + healthy.report.phases.slice(0, i + 1).reduce((n, p) => n + p.ms, 0); };
    const beforeDrainEnd = dropped.filter((d) => d.at < phaseEnd('drain') - 500);
    if (healthy.code !== 0) throw new Error(`the healthy deploy failed: ${healthy.report.error}`);
    const upToSwitch = healthy.report.phases.slice(0, healthy.report.phases.findIndex((p) => p.phase === 'switch') + 1).reduce((n, p) => n + p.ms, 0);
    const rtp = outcome[0]?.values as { packetsReceived?: number } | undefined;

    for (const ws of peers) ws.close();
    log('rollback');
    const r0 = Date.now();
    const back = await cli(rollbackMain, ['--now']);
    const rollbackMs = Date.now() - r0;
    if (back.code !== 0) throw new Error(`the rollback failed: ${back.report.error}`);
    const backToSwitch = back.report.phases.slice(0, back.report.phases.findIndex((p) => p.phase === 'switch') + 1).reduce((n, p) => n + p.ms, 0);

    const bad: { kind: string; status: string; failed: number; ok: number; serving: boolean }[] = [];
    for (const kind of ['crash', 'readyz', 'signaling', 'media'] as const) {
      log(`bad release: ${kind}`);
      const artifact = brokenArtifact(good, kind, dir);
      const p = poller(sb.address, ca);
      const r = await cli(deployMain, ['--artifact', artifact]);
      const q = await p.stop();
      bad.push({ kind, status: r.report.status, failed: q.failures.length, ok: q.ok, serving: r.report.serving === r.report.from });
    }

    console.log(`deploy bench on ${NAME} (${OS}; the sandbox shares this machine's ${2} cores)`);
    console.log(`  healthy deploy under load: ${s(deployMs)} in all, ${s(upToSwitch)} from its start to nginx on the new release`);
    console.log(`    HTTP /healthz through nginx every 50 ms: ${polled.failures.length} failed of ${polled.ok + polled.failures.length}${polled.failures.length > 0 ? ` (${[...new Set(polled.failures)].join(', ')})` : ''}`);
    console.log(`    a new caller every second: ${joined.refused.length} refused of ${joined.joined + joined.refused.length}${joined.refused.length > 0 ? ` (${[...new Set(joined.refused)].join(', ')})` : ''}`);
    console.log(`    three peers in a call: ${beforeDrainEnd.length} dropped before the old release's drain ended (${dropped.length} closed by its end, codes ${[...new Set(dropped.map((d) => d.code))].join(', ') || '-'})`);
    console.log(`    a real call spanning the deploy: ${rtp?.packetsReceived ?? 0}/${packets} RTP packets came back (${outcome[0]?.status ?? '?'}: ${outcome[0]?.message ?? ''})`);
    console.log(`  rollback.mjs to the release before (it served: the gate, no watch): ${s(rollbackMs)} in all, ${s(backToSwitch)} to nginx on it`);
    for (const b of bad) console.log(`  bad release (${b.kind}): ${b.status}, the previous release ${b.serving ? 'kept serving' : 'did NOT keep serving'}, ${b.failed} failed requests of ${b.ok + b.failed}`);
    if (polled.failures.length > 0 || bad.some((b) => b.status !== 'rolled-back' || !b.serving)) process.exitCode = 1;
  } finally {
    await sandboxDown({ name: NAME });
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => { console.error(`bench:deploy failed: ${(e as Error).stack ?? e}`); process.exitCode = 1; });
