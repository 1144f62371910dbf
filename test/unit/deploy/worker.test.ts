import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ArtifactError, findWorkerBin } from '../../../lib/deploy/artifact.js';
import { workerEnvFor } from '../../../lib/deploy/commands.js';

describe('which mediasoup worker goes into a release for the hosts of one release', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rtcops-worker-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => {
    writeFileSync(join(dir, name), '');
    return join(dir, name);
  };
  const d12 = file('worker-bookworm');
  const d13 = file('worker-trixie');
  const flag = file('worker-flag');
  const repo = join(dir, 'no-repo');

  it('names the variable after the release', () => {
    assert.deepEqual(['debian-13', 'ubuntu-24.04'].map(workerEnvFor), ['MEDIASOUP_WORKER_BIN_DEBIAN_13', 'MEDIASOUP_WORKER_BIN_UBUNTU_24_04']);
  });

  const cases: [string, string | undefined, string | undefined, NodeJS.ProcessEnv, string][] = [
    ['the release\'s own worker first', undefined, 'debian-13', { MEDIASOUP_WORKER_BIN: d12, MEDIASOUP_WORKER_BIN_DEBIAN_13: d13 }, d13],
    ['else MEDIASOUP_WORKER_BIN', undefined, 'debian-12', { MEDIASOUP_WORKER_BIN: d12, MEDIASOUP_WORKER_BIN_DEBIAN_13: d13 }, d12],
    ['a release variable naming a missing file is passed over', undefined, 'debian-13', { MEDIASOUP_WORKER_BIN: d12, MEDIASOUP_WORKER_BIN_DEBIAN_13: join(dir, 'nope') }, d12],
    ['an explicit worker wins', flag, 'debian-13', { MEDIASOUP_WORKER_BIN_DEBIAN_13: d13 }, flag],
  ];
  for (const [name, explicit, os, env, expected] of cases) {
    it(name, () => assert.equal(findWorkerBin(repo, explicit, os, env), expected));
  }

  it('none at all: an ArtifactError naming both variables', () => {
    assert.throws(() => findWorkerBin(repo, undefined, 'debian-13', {}), (e: unknown) => e instanceof ArtifactError && /MEDIASOUP_WORKER_BIN \(or MEDIASOUP_WORKER_BIN_DEBIAN_13/.test(e.message));
  });
});
