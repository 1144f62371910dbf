import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Artifact } from '../../../lib/deploy/artifact.js';
import { deployHost, type DeployOptions } from '../../../lib/deploy/engine.js';
import { layoutOf } from '../../../lib/host/index.js';
import { RecordingRunner, type AnswerTable } from '../../../lib/runner/index.js';
import { exampleHost, fakeSecrets } from '../../fixtures/inventories/hosts.js';

/**
 * Deploys against a RecordingRunner: the host has releases R1 (previous) and R2 (current), and whatever the engine
 * switches to, PM2 reports errored, so the gate fails at once (no signaling probe) and the engine restores R2.
 */
const host = exampleHost('sandbox');
const secrets = fakeSecrets(host);
const dir = mkdtempSync(join(tmpdir(), 'rtcops-recorded-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'release.tar.gz');
writeFileSync(file, 'not unpacked: the runner only records it');
const artifact: Artifact = { file, sha: 'c0ffee'.repeat(6) + 'abcd', ref: 'main', builtAt: '2026-01-01T00:00:00Z', unpackedBytes: 1000, bytes: 40, cached: false };

function hostRunner(extra: AnswerTable = []): RecordingRunner {
  let record: string | undefined;
  return new RecordingRunner(host.name, [
    ...extra,
    // The holder writes the lock record with its pid; reading the lock then shows it.
    ['RTCOPS_LOCK', (c) => { record = /json='([^']*)'/.exec(c.text)?.[1]; return {}; }],
    [`cat ${layoutOf(host).lock}`, () => ({ stdout: record === undefined ? '' : record.replace(/\}$/, ',"holderPid":4242}') })],
    ['missing=()', { stdout: JSON.stringify({ releases: [{ id: 'R1' }, { id: 'R2' }], current: 'R2', previous: 'R1', freeKb: 10_000_000, missing: [] }) }],
    ['/status', { stdout: '{"roomList":[]}' }],
    ['healthz', { stdout: JSON.stringify({ pm2: { pid: 7, status: 'errored', restarts: 15 }, cwd: '', healthz: { code: 0, body: '' }, readyz: { code: 0, body: '' } }) }],
  ]);
}

async function recorded(opts: Omit<DeployOptions, 'connect' | 'timing'>, extra?: AnswerTable) {
  const r = hostRunner(extra);
  const report = await deployHost(host, secrets, { ...opts, connect: r.connect, timing: { gateTimeoutMs: 1000, watchMs: 0, pollMs: 10 } });
  // The lock record's phase updates interleave everything: the order of the work is what is compared.
  return { report, calls: r.calls.filter((c) => c.summary !== 'record the deploy phase').map((c) => c.summary) };
}

/** What a deploy and a rollback both do once the release is on the host (`to`), restoring `from` when it fails. */
const afterPrepare = (to: string, from: string) => [
  'check the config', 'read /status', 'measure the server logs', 'write the deploy marker',
  `switch current to ${to}`, 'pm2 startOrReload', 'loopback health',
  'read what the release logged', 'mark the release failed', `switch current to ${from}`, 'pm2 startOrReload', 'loopback health',
  'end the deploy marker', 'write the deploy audit log', 'release the deploy lock',
];
const lock = ['read the deploy lock', 'hold the deploy lock', 'read the deploy lock', 'read the releases'];

describe('a deploy, recorded: one fixed order, and rollback is the same path', () => {
  test('rollback to R1: lock, releases, link, then the shared path; R2 restored when R1 fails its gate', async () => {
    const { report, calls } = await recorded({ action: 'rollback' });
    assert.equal(report.status, 'failed');
    assert.match(report.error ?? '', /health gate failed for R1: PM2 reports the app errored.*restoring R2 also failed/);
    assert.deepEqual(calls, [...lock, 'link shared files', ...afterPrepare('R1', 'R2')]);
  });

  test('deploy of a new release: its upload, then exactly the rollback\'s calls', async () => {
    const { report, calls } = await recorded({ action: 'deploy', artifact, releaseId: 'R3' });
    assert.equal(report.release, 'R3');
    assert.deepEqual(calls, [...lock, 'unpack release R3', 'link shared files', ...afterPrepare('R3', 'R2')]);
  });

  test('a release that fails its config check is marked failed and never switched to: refused, R2 serves on', async () => {
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
