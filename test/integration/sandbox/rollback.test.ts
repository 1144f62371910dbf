import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sandboxDown, sandboxStatus } from '../../../lib/sandbox/index.js';
import { holdSandbox } from '../../helpers/sandbox.js';
import { buildOnce, cli, hostSnapshot, type HostSnapshot, linkExists, stateDir } from './harness.js';

const name = 'sbrollback';

describe('sandbox: Ctrl-C or a failure during up leaves nothing behind', { timeout: 15 * 60_000 }, () => {
  let clean: HostSnapshot;
  let release: () => void;

  before(async () => {
    buildOnce();
    release = await holdSandbox(name, stateDir);
    await sandboxDown({ name, stateDir });
    clean = hostSnapshot(name);
  });
  after(async () => {
    await sandboxDown({ name, stateDir });
    release();
  });

  // Interrupt points: right after the bridge exists, after the apt proxy started, and while the guest boots.
  const points: [string, RegExp][] = [
    ['with only the bridge created', /network: bridge rtcops-sb\d+ [\d.]+\/24: done/],
    ['with the bridge and the apt proxy up', /apt proxy on [\d.:]+: done/],
    ['while the guest boots', /boot 10\.77\.\d+\.2 \(systemd-nspawn\) and wait for SSH \.\.\./],
  ];
  for (const [when, line] of points) {
    it(`SIGINT ${when}: exit 130, no interface, mount, namespace or process left`, async () => {
      let sent = false;
      const run = await cli(['up', '--name', name], (stderr, child) => {
        if (!sent && line.test(stderr)) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      assert.ok(sent, `never saw ${line} in:\n${run.stderr}`);
      assert.equal(run.code, 130, run.stderr);
      assert.match(run.stderr, new RegExp(`sandbox: interrupted: sandbox "${name}" was not started and nothing of it was left behind`));
      assert.deepEqual(hostSnapshot(name), clean);
      const bridge = /network: bridge (rtcops-sb\d+)/.exec(run.stderr)?.[1] ?? '';
      assert.equal(linkExists(bridge), false, `bridge ${bridge} removed`);
      assert.equal((await sandboxStatus({ name, stateDir })).running, false);
    });
  }

  it('SIGINT while mmdebstrap builds the image: its whole process tree stops, its mounts and half-built tree are gone', async () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rtcops-sandbox-build-'));
    try {
      let sent = false;
      const run = await cli(['up', '--name', name, '--state-dir', scratch], (stderr, child) => {
        if (!sent && /installing essential packages/.test(stderr)) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      assert.ok(sent, `never saw mmdebstrap install packages:\n${run.stderr}`);
      assert.equal(run.code, 130, run.stderr);
      assert.match(run.stderr, /sandbox: interrupted: interrupted during mmdebstrap/);
      assert.deepEqual(fs.readFileSync('/proc/mounts', 'utf8').split('\n').filter((line) => line.includes(scratch)), []);
      assert.equal(fs.existsSync(path.join(scratch, 'images', 'debian-12.build')), false);
      assert.equal(fs.existsSync(path.join(scratch, 'images', 'debian-12')), false);
      assert.deepEqual(hostSnapshot(name, scratch), { links: clean.links, mounts: [], processes: [], namespaces: [], listeners: clean.listeners });
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('a guest that fails to boot is rolled back: exit 1 with nspawn\'s reason, nothing left behind', async () => {
    // nspawn names the host end of the guest's veth "vb-<name>": an interface already holding that name makes it fail.
    execFileSync('ip', ['link', 'add', `vb-${name}`, 'type', 'bridge']);
    try {
      const before = hostSnapshot(name);
      const run = await cli(['up', '--name', name]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /the guest stopped while booting/);
      assert.match(run.stderr, new RegExp(`vb-${name}.*File exists`));
      assert.deepEqual(hostSnapshot(name), before);
    } finally {
      execFileSync('ip', ['link', 'del', `vb-${name}`]);
    }
    assert.deepEqual(hostSnapshot(name), clean);
  });

  it('a usage error changes nothing and exits 2 with the fix', async () => {
    const run = await cli(['start']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown command "start" \(expected one of: up, down, reset, status, ssh\)/);
    assert.deepEqual(hostSnapshot(name), clean);
  });

  it('ssh to a sandbox that is not running fails with how to start it (exit 1)', async () => {
    const run = await cli(['ssh', '--name', name, '--', 'true']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /sandbox "sbrollback" is not running: start it with "npx zx scripts\/sandbox.mjs up --name sbrollback"/);
  });
});
