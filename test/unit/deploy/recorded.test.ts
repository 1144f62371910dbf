import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Artifact } from '../../../lib/deploy/artifact.js';
import { deployHost, type DeployOptions, type Timing } from '../../../lib/deploy/engine.js';
import { Interrupt } from '../../../lib/deploy/interrupt.js';
import { layoutOf } from '../../../lib/host/index.js';
import type { Outcome } from '../../../lib/checks/result.js';
import { RecordingRunner, type AnswerTable } from '../../../lib/runner/index.js';
import { exampleHost, fakeSecrets } from '../../fixtures/inventories/hosts.js';

/**
 * Deploys against a RecordingRunner: the host has releases R1 (previous) and R2 (current, in slot a, nginx on it),
 * and whatever the engine starts in slot b, PM2 reports errored, so the gate fails at once and slot b is stopped.
 */
const host = exampleHost('sandbox');
const secrets = fakeSecrets(host);
const dir = mkdtempSync(join(tmpdir(), 'rtcops-recorded-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'release.tar.gz');
writeFileSync(file, 'not unpacked: the runner only records it');
const artifact: Artifact = { file, sha: 'c0ffee'.repeat(6) + 'abcd', ref: 'main', builtAt: '2026-01-01T00:00:00Z', unpackedBytes: 1000, bytes: 40, cached: false };
const probe = (status: string, cwd = '', code = 0) => JSON.stringify({ pm2: { pid: 7, status, restarts: 0 }, cwd, healthz: { code, body: '' }, readyz: { code, body: '' } });

function hostRunner(extra: AnswerTable = []): RecordingRunner {
  let record: string | undefined;
  return new RecordingRunner(host.name, [
    ...extra,
    // The holder writes the lock record with its pid; reading the lock then shows it.
    ['RTCOPS_LOCK', (c) => { record = /json='([^']*)'/.exec(c.text)?.[1]; return {}; }],
    [`cat ${layoutOf(host).lock}`, () => ({ stdout: record === undefined ? '' : record.replace(/\}$/, ',"holderPid":4242}') })],
    ['missing=()', { stdout: JSON.stringify({ releases: [{ id: 'R1' }, { id: 'R2' }], current: 'R2', previous: 'R1', freeKb: 10_000_000, missing: [] }) }],
    ['grep -o', { stdout: JSON.stringify({ port: 3000, procs: [{ name: 'rtcops-a', pid: 5, status: 'online', restarts: 0, cwd: '/srv/rtcops/releases/R2' }] }) }],
    ['/status', { stdout: '{"roomList":[]}' }],
    ['healthz', { stdout: probe('errored') }],
  ]);
}

/** The gate's call, as the media probe reports it: every path carried its RTP, or one got none. */
const path = (target: string, received = 25): Outcome => ({ check: 'media-probe', target, status: received >= 20 ? 'ok' : 'critical', message: `${received}/25`, values: { connectMs: 40, packetsSent: 25, packetsReceived: received } });
const callOk = () => Promise.resolve(['direct', 'relay:udp', 'relay:tls'].map((t) => path(t)));

async function recorded(opts: Omit<DeployOptions, 'connect' | 'timing'>, extra?: AnswerTable, timing: Partial<Timing> = {}) {
  const r = hostRunner(extra);
  const report = await deployHost(host, secrets, { call: callOk, ...opts, connect: r.connect, timing: { gateTimeoutMs: 1000, watchMs: 0, pollMs: 10, ...timing } });
  // The lock record's phase updates interleave everything: the order of the work is what is compared.
  return { report, calls: r.calls.filter((c) => c.summary !== 'record the deploy phase').map((c) => c.summary) };
}

/** What a deploy and a rollback both do once the release is on the host (`to`): slot b, its gate there; then what `end` says. */
const startInB = (to: string) => ['check the config', 'measure the server logs', 'write the deploy marker', `link slot b to ${to}`, 'pm2 start rtcops-b', 'loopback health'];
const refused = ['read what the release logged', 'mark the release failed', 'pm2 delete rtcops-b', 'end the deploy marker', 'write the deploy audit log', 'release the deploy lock'];
const lock = ['read the deploy lock', 'hold the deploy lock', 'read the deploy lock', 'read the releases', 'read the deploy slots'];
const good = (id: string): AnswerTable => [
  ['healthz', { stdout: probe('online', `/srv/rtcops/releases/${id}`, 200) }],
  ['--input-type=module', { stdout: '{"ok":true,"ports":[40600,40601]}\n' }],
];

describe('a deploy, recorded: one fixed order, and rollback is the same path', () => {
  test('rollback to R1 fails its gate in slot b: slot b stopped, nginx never switched, R2 serves on in slot a', async () => {
    const { report, calls } = await recorded({ action: 'rollback' });
    assert.deepEqual([report.status, report.serving], ['rolled-back', 'R2']);
    assert.match(report.error ?? '', /health gate failed for R1: PM2 reports the app errored.*nginx was never switched to it: R2 kept serving \(slot a\)/);
    assert.deepEqual(calls, [...lock, 'link shared files', ...startInB('R1'), ...refused]);
  });

  test('deploy of a new release: its upload, then exactly the rollback\'s calls', async () => {
    const { report, calls } = await recorded({ action: 'deploy', artifact, releaseId: 'R3' });
    assert.equal(report.release, 'R3');
    assert.deepEqual(calls, [...lock, 'unpack release R3', 'link shared files', ...startInB('R3'), ...refused]);
  });

  test('a release that passes on its own port: then nginx, current, pm2 save, the old release\'s calls, and only then the old slot stops', async () => {
    const { report, calls } = await recorded({ action: 'deploy', artifact, releaseId: 'R3' }, good('R3'));
    assert.deepEqual([report.status, report.serving], ['ok', 'R3'], report.error);
    assert.deepEqual(calls, [...lock, 'unpack release R3', 'link shared files', ...startInB('R3'), 'signaling round trip on slot b',
      'nginx to slot b', 'switch current to R3', 'pm2 save', 'read /status', 'pm2 delete rtcops-a', 'end the deploy marker', 'read the releases', 'prune releases', 'write the deploy audit log', 'release the deploy lock']);
  });

  test('rollback to R1 while slot b still runs it (a drain cut short): no restart, its gate, then nginx switched back', async () => {
    const slots: AnswerTable = [['grep -o', { stdout: JSON.stringify({ port: 3000, procs: [
      { name: 'rtcops-a', pid: 5, status: 'online', restarts: 0, cwd: '/srv/rtcops/releases/R2' }, { name: 'rtcops-b', pid: 6, status: 'online', restarts: 0, cwd: '/srv/rtcops/releases/R1' },
    ] }) }]];
    const { report, calls } = await recorded({ action: 'rollback', to: 'R1' }, [...slots, ...good('R1')]);
    assert.deepEqual([report.status, report.serving], ['ok', 'R1'], report.error);
    assert.match(report.phases.find((p) => p.phase === 'start')?.detail ?? '', /slot b still runs R1 \(rtcops-b, pid 6\): no restart/);
    assert.deepEqual(calls.slice(0, 12), [...lock, 'link shared files', 'check the config', 'measure the server logs', 'write the deploy marker', 'loopback health', 'signaling round trip on slot b', 'nginx to slot b']);
  });

  test('a release whose transports offer ports outside its slot\'s media ports fails the gate at once (the firewall would drop the calls)', async () => {
    const { report } = await recorded({ action: 'deploy', artifact, releaseId: 'R3' }, [['--input-type=module', { stdout: '{"ok":true,"ports":[40100]}\n' }], ...good('R3')]);
    assert.equal(report.status, 'rolled-back');
    assert.match(report.error ?? '', /ICE candidates on port\(s\) 40100, outside slot b's media ports 40500-40999/);
  });

  test('a release that passes every check but whose call gets no RTP back fails the gate with the call as the reason: nginx never switched', async () => {
    const calls: string[] = [];
    const { report } = await recorded({ action: 'deploy', artifact, releaseId: 'R3', call: (slot) => { calls.push(slot.name); return Promise.resolve([path('direct', 0)]); } }, good('R3'));
    assert.equal(report.status, 'rolled-back');
    assert.match(report.error ?? '', /health gate failed for R3: a call through slot b failed on the direct path: ICE and DTLS connected in 40 ms but no RTP came back within 2\.0s \(0 of 25 packets\) \(not tried: relay:udp, relay:tls\) \(still failing after/);
    assert.ok(!report.phases.some((p) => p.phase === 'switch'), 'no switch');
    assert.ok(calls.length >= 1 && calls.every((s) => s === 'b'), 'called through slot b, retried until the deadline');
  });

  test('a release that passes: the gate\'s report shows the call and its RTP per path', async () => {
    const { report } = await recorded({ action: 'deploy', artifact, releaseId: 'R3' }, good('R3'));
    assert.match(report.phases.find((p) => p.phase === 'gate')?.detail ?? '', /healthz, readyz, signaling and a call passed on slot b .*: direct 25\/25 RTP, relay:udp 25\/25 RTP, relay:tls 25\/25 RTP$/);
  });

  test('a release that fails its config check is marked failed and never started: refused, R2 serves on', async () => {
    const { report, calls } = await recorded({ action: 'deploy', artifact, releaseId: 'R3' }, [['--check-config', { code: 3, stderr: 'JWT_SECRET is missing' }]]);
    assert.deepEqual([report.status, report.serving], ['refused', 'R2']);
    assert.match(report.error ?? '', /JWT_SECRET is missing/);
    assert.deepEqual(calls, [...lock, 'unpack release R3', 'link shared files', 'check the config', 'mark the release failed', 'write the deploy audit log', 'release the deploy lock']);
  });

  test('another deploy holding the lock: refused before anything is read or changed', async () => {
    const busy: AnswerTable = [['RTCOPS_LOCK', { stdout: 'RTCOPS_LOCK busy\n{"by":"ann@laptop","action":"deploy","at":"2026-01-01T00:00:00Z"}\n' }]];
    const { report, calls } = await recorded({ action: 'deploy', artifact, releaseId: 'R3' }, busy);
    assert.equal(report.status, 'refused');
    assert.match(report.error ?? '', /another deploy holds the lock.*ann@laptop/);
    assert.deepEqual(calls, ['read the deploy lock', 'hold the deploy lock', 'read the deploy lock', 'write the deploy audit log']);
  });
});

describe('a deploy interrupted by a signal (Ctrl-C, a CI cancel) finishes its decision and records it', () => {
  /** slot a runs R2, slot b the new R3: each slot's health answer names its own release. */
  const bothHealthy: AnswerTable = [
    ['healthz', (c) => ({ stdout: probe('online', `/srv/rtcops/releases/${c.text.includes('rtcops-a') ? 'R2' : 'R3'}`, 200) })],
    ['--input-type=module', (c) => ({ stdout: (c.stdin ?? '').includes('127.0.0.1:3000/') ? '{"ok":true,"ports":[40100]}\n' : '{"ok":true,"ports":[40600,40601]}\n' })],
  ];
  const on = (summary: string, interrupt: Interrupt, signal = 'SIGINT'): AnswerTable[number] => [summary, () => { interrupt.trigger(signal); return { stdout: '' }; }];

  test('before the new release started: refused, nothing started, the lock released', async () => {
    const interrupt = new Interrupt();
    const { report, calls } = await recorded({ action: 'deploy', artifact, releaseId: 'R3', interrupt }, [on('--check-config', interrupt)]);
    assert.deepEqual([report.status, report.serving, report.interrupted], ['refused', 'R2', 'SIGINT']);
    assert.match(report.error ?? '', /interrupted by SIGINT before R3 started: nothing was switched/);
    assert.ok(!calls.includes('pm2 start rtcops-b'), calls.join(', '));
    assert.deepEqual(calls.slice(-2), ['write the deploy audit log', 'release the deploy lock']);
  });

  test('during the gate: the new slot is stopped, nginx never switched, and the release is NOT marked failed (it stays a rollback target)', async () => {
    const interrupt = new Interrupt();
    // PM2 reports it errored until the signal: the gate is retrying when it arrives.
    const { report, calls } = await recorded({ action: 'deploy', artifact, releaseId: 'R3', interrupt }, [['healthz', () => { interrupt.trigger('SIGTERM'); return { stdout: probe('launching') }; }]], { gateTimeoutMs: 60_000 });
    assert.deepEqual([report.status, report.serving, report.interrupted], ['rolled-back', 'R2', 'SIGTERM']);
    assert.match(report.error ?? '', /interrupted by SIGTERM during the gate of R3 \(slot b\), before any caller reached it; nginx was never switched to it: R2 kept serving/);
    assert.match(report.hint ?? '', /nothing failed/);
    assert.ok(calls.includes('pm2 delete rtcops-b'));
    assert.ok(!calls.includes('mark the release failed') && !calls.includes('nginx to slot b'), calls.join(', '));
    assert.ok(report.ms < 30_000, `it stopped at the signal, not at the gate's deadline (${report.ms} ms)`);
  });

  test('during the watch: nginx back to the old slot (still running), which passes its gate again; the new slot stopped', async () => {
    const interrupt = new Interrupt();
    const { report, calls } = await recorded({ action: 'deploy', artifact, releaseId: 'R3', interrupt }, [['nginx -t -q', (c) => { if (c.text.includes('127.0.0.1:3001')) interrupt.trigger('SIGINT'); return {}; }], ...bothHealthy], { watchMs: 60_000, pollMs: 5_000 });
    assert.deepEqual([report.status, report.serving, report.interrupted], ['rolled-back', 'R2', 'SIGINT'], report.error);
    assert.match(report.error ?? '', /interrupted by SIGINT during the watch of R3, .* not kept, since it was not watched for the full period; R2 \(slot a, still running\) serves again/);
    const back = calls.indexOf('nginx to slot a');
    assert.ok(back > calls.indexOf('nginx to slot b') && back < calls.indexOf('pm2 delete rtcops-b'), calls.join(', '));
    assert.ok(!calls.includes('pm2 save') && !calls.includes('mark the release failed'), calls.join(', '));
    assert.ok(report.ms < 30_000, `the watch ended at the signal (${report.ms} ms)`);
  });

  test('during the drain (the release was verified): kept; the old calls may end, and a second signal stops the old slot now', async () => {
    const interrupt = new Interrupt();
    let reads = 0;
    const { report, calls } = await recorded({ action: 'deploy', artifact, releaseId: 'R3', interrupt }, [
      on('pm2 save', interrupt),
      ['/status', () => { if (++reads === 3) interrupt.trigger('SIGINT'); return { stdout: '{"roomList":[{"room":"standup","peers":2}]}' }; }],
      ...bothHealthy,
    ], { watchMs: 0, drainWaitMs: 120_000, pollMs: 50 });
    assert.deepEqual([report.status, report.serving, report.interrupted], ['ok', 'R3', 'SIGINT'], report.error);
    assert.match(report.phases.find((p) => p.phase === 'drain')?.detail ?? '', /cut short by a second SIGINT/);
    assert.equal(reads, 3, 'the drain waited for the calls after the first signal and stopped at the second');
    assert.deepEqual(calls.slice(calls.indexOf('pm2 save')), ['pm2 save', 'read /status', 'read /status', 'read /status', 'pm2 delete rtcops-a', 'end the deploy marker', 'read the releases', 'prune releases', 'write the deploy audit log', 'release the deploy lock']);
  });
});

describe('a rollback to a release that served before needs no watch', () => {
  const healthy: AnswerTable = [
    ['healthz', (c) => ({ stdout: probe('online', `/srv/rtcops/releases/${c.text.includes('rtcops-a') ? 'R2' : 'R1'}`, 200) })],
    ['--input-type=module', { stdout: '{"ok":true,"ports":[40600,40601]}\n' }],
  ];
  const servedR1: AnswerTable = [['missing=()', { stdout: JSON.stringify({ releases: [{ id: 'R1', served: '2026-01-01T00:00:00.000Z' }, { id: 'R2', served: '2026-01-02T00:00:00.000Z' }], current: 'R2', previous: 'R1', freeKb: 10_000_000, missing: [] }) }]];

  test('R1 was kept once (its served mark): the gate, then no watch', async () => {
    const { report, calls } = await recorded({ action: 'rollback' }, [...servedR1, ...healthy], { watchMs: 60_000 });
    assert.deepEqual([report.status, report.serving], ['ok', 'R1'], report.error);
    const watch = report.phases.find((p) => p.phase === 'watch');
    assert.deepEqual([watch?.status, watch?.detail], ['skipped', 'R1 served before (kept 2026-01-01T00:00:00.000Z) and passed the gate now: no watch (--watch to watch it)']);
    assert.ok(calls.includes('signaling round trip on slot b') && report.ms < 30_000, `${report.ms} ms`);
  });

  test('--watch watches it anyway; a release that never served is always watched', async () => {
    // The watch's signaling through nginx cannot reach the recorded host's domain, so the watch runs and fails here:
    // what counts is that it ran.
    const asked = await recorded({ action: 'rollback', watch: true }, [...servedR1, ...healthy], { watchMs: 30, pollMs: 10 });
    assert.match(asked.report.error ?? '', /watch period failed for R1: signaling through wss:\/\/rtc\.sandbox\.test\/signaling/);
    const never = await recorded({ action: 'rollback' }, healthy, { watchMs: 30, pollMs: 10 });
    assert.match(never.report.error ?? '', /watch period failed for R1/);
  });

  test('a deploy marks the release it keeps as served, once', async () => {
    const r = hostRunner([...healthy.slice(1), ['healthz', { stdout: probe('online', '/srv/rtcops/releases/R3', 200) }]]);
    const report = await deployHost(host, secrets, { action: 'deploy', artifact, releaseId: 'R3', call: callOk, connect: r.connect, timing: { gateTimeoutMs: 1000, watchMs: 0, pollMs: 10 } });
    assert.equal(report.status, 'ok', report.error);
    assert.match(r.calls.find((c) => c.summary === 'pm2 save')?.text ?? '', /> \/srv\/rtcops\/releases\/R3\/\.rtcops-served/);
  });
});
