import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  connectGuest,
  runInGuest,
  sandboxDown,
  sandboxProbe,
  sandboxStatus,
  sandboxTarget,
  sandboxUp,
  type SandboxInfo,
  streamProgress,
  trustCaInGuest,
} from '../../../lib/sandbox/index.js';
import { e2eName, e2eOsesFirst, holdSandbox } from '../../helpers/sandbox.js';
import { buildOnce, cli, hostSnapshot, type HostSnapshot, linkExists, stateDir } from './harness.js';

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(250);
  }
}

for (const release of e2eOsesFirst()) describe(`sandbox lifecycle (${release}): up, use it like a VM, down leaves nothing`, { timeout: 15 * 60_000 }, () => {
  const name = e2eName('life', release);
  const options = { name, os: release, stateDir, progress: streamProgress(process.stderr, `sandbox ${name}`) };
  let before_: HostSnapshot;
  let target: SandboxInfo;
  let giveBack: () => void;

  before(async () => {
    buildOnce();
    giveBack = await holdSandbox(name, stateDir);
    await sandboxDown(options);
    before_ = hostSnapshot(name);
  });
  after(async () => {
    await sandboxDown(options);
    giveBack();
  });

  it('up builds the image if needed, boots a guest and waits for SSH with the pinned host key', async (t) => {
    const run = await cli(['up', '--name', name, '--os', release, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const up = JSON.parse(run.stdout);
    t.diagnostic(`up: ${up.imageBuilt ? `cold (image built in ${up.imageSeconds.toFixed(1)}s)` : 'warm'}, ready in ${up.totalSeconds.toFixed(1)}s, boot to SSH ${up.bootSeconds.toFixed(1)}s`);
    assert.match(up.address, /^10\.77\.\d+\.2$/);
    assert.equal(up.hostAddress, up.address.replace(/\.2$/, '.1'));
    assert.equal(up.user, 'rtcops');
    assert.equal(up.sshPort, 22);
    assert.equal(up.keyPath, path.join(stateDir, 'id_ed25519'));
    assert.equal(up.knownHostsPath, path.join(stateDir, 'known_hosts'));
    assert.equal(up.alreadyRunning, false);
    assert.equal(up.os, release);
    target = await sandboxTarget(options);
    assert.equal(target.address, up.address);
  });

  it('up on a running sandbox says so and changes nothing', async () => {
    const run = await cli(['up', '--name', name]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`sandbox "${name}" is already running at ${target.address.replace(/\./g, '\\.')}`));
  });

  it('lets the operator in as rtcops with the pinned key, with passwordless sudo', async () => {
    assert.deepEqual(await runInGuest(target, 'id -un && sudo -n id -un'), { code: 0, stdout: 'rtcops\nroot', stderr: '' });
    const viaSystemSsh = await cli(['ssh', '--name', name, '--', 'hostname']);
    assert.equal(viaSystemSsh.code, 0, viaSystemSsh.stderr);
    assert.equal(viaSystemSsh.stdout.trim(), name);
    // Each word arrives as typed: the pipe and the quotes belong to bash -c, not to the remote login shell.
    const quoted = await cli(['ssh', '--name', name, '--', 'sudo', 'bash', '-c', 'echo "a  b" | wc -w; . /etc/os-release; echo "$VERSION_ID"']);
    assert.equal(quoted.code, 0, quoted.stderr);
    assert.deepEqual(quoted.stdout.trim().split('\n'), ['2', release.split('-')[1]]);
  });

  it('refuses a guest whose host key is not the pinned one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtcops-pin-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'other')]);
    const other = fs.readFileSync(path.join(dir, 'other.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    fs.writeFileSync(path.join(dir, 'known_hosts'), `${target.address} ${other}\n`);
    try {
      await assert.rejects(connectGuest({ ...target, knownHostsPath: path.join(dir, 'known_hosts') }), /not the one pinned/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs systemd as PID 1 and reaches running (or degraded)', async (t) => {
    const state = await until('systemctl is-system-running to settle', 90_000, async () => {
      const { stdout } = await runInGuest(target, 'sudo systemctl is-system-running');
      return ['running', 'degraded'].includes(stdout.trim()) ? stdout.trim() : undefined;
    });
    const failed = await runInGuest(target, 'systemctl --failed --no-legend --plain');
    t.diagnostic(`is-system-running: ${state}${failed.stdout ? `; failed units: ${failed.stdout}` : ''}`);
    assert.ok(['running', 'degraded'].includes(state));
    assert.equal((await runInGuest(target, 'ps -o comm= -p 1')).stdout, 'systemd');
    assert.equal((await runInGuest(target, 'systemd-detect-virt')).stdout, 'systemd-nspawn');
  });

  it('installs a package through the apt proxy on the bridge, and reaches nothing beyond its /24', async () => {
    const routes = await runInGuest(target, 'ip -4 route');
    assert.deepEqual(routes.stdout.split('\n').map((r) => r.split(' ')[0]), [target.address.replace(/\.2$/, '.0/24')]);
    const install = await runInGuest(
      target,
      'sudo apt-get update -q >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello >/dev/null && hello',
    );
    assert.equal(install.code, 0, install.stderr);
    assert.equal(install.stdout, 'Hello, world!');
    const cached = execFileSync('find', [path.join(stateDir, 'apt-proxy', 'cache', name), '-name', 'hello_*.deb'], { encoding: 'utf8' });
    assert.match(cached, /hello_.*\.deb/, 'the package went through (and stays in) the proxy cache');
  });

  it('reaches a TLS service on the host side of the bridge once it trusts the test CA (what pebble needs)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtcops-ca-'));
    const file = (f: string) => path.join(dir, f);
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
      '-subj', '/CN=rtcops sandbox test CA', '-days', '1', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${target.hostAddress}`);
    fs.writeFileSync(file('leaf.ext'), `subjectAltName=IP:${target.hostAddress}\n`);
    openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '1', '-extfile', 'leaf.ext');
    const server = https.createServer({ key: fs.readFileSync(file('leaf.key')), cert: fs.readFileSync(file('leaf.pem')) }, (_req, res) => res.end('hello from the host'));
    await new Promise<void>((resolve) => server.listen(0, target.hostAddress, resolve));
    const { port } = server.address() as AddressInfo;
    const fetchFromGuest = `python3 -c "import urllib.request; print(urllib.request.urlopen('https://${target.hostAddress}:${port}/', timeout=5).read().decode())"`;
    try {
      const untrusted = await runInGuest(target, fetchFromGuest);
      assert.notEqual(untrusted.code, 0);
      assert.match(untrusted.stderr, /CERTIFICATE_VERIFY_FAILED/);
      await trustCaInGuest(target, fs.readFileSync(file('ca.pem'), 'utf8'));
      assert.deepEqual(await runInGuest(target, fetchFromGuest), { code: 0, stdout: 'hello from the host', stderr: '' });
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports status with address, uptime and disk used', async () => {
    const run = await cli(['status', '--name', name, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const status = JSON.parse(run.stdout);
    assert.equal(status.running, true);
    assert.equal(status.sshReady, true);
    assert.equal(status.info.address, target.address);
    assert.ok(status.uptimeSeconds >= 0);
    assert.ok(status.diskUsedBytes > 1024 * 1024, 'the apt install above wrote into the throw-away layer');
  });

  it('can plug a probe namespace into the bridge that reaches the guest from outside', async () => {
    const probe = await sandboxProbe({ ...options, host: 3 });
    assert.equal(probe.address, target.address.replace(/\.2$/, '.3'));
    const banner = execFileSync(
      'ip',
      ['netns', 'exec', probe.namespace, 'bash', '-c', `exec 3<>/dev/tcp/${target.address}/22; head -c 8 <&3`],
      { encoding: 'utf8', timeout: 10_000 },
    );
    assert.equal(banner, 'SSH-2.0-');
  });

  it('survives a reboot from inside the guest, keeping its disk', async () => {
    const before = await sandboxStatus(options);
    await runInGuest(target, 'sudo touch /var/tmp/kept /run/forgotten');
    // Scheduled, so the SSH session ends before the guest's network goes away under it.
    await runInGuest(target, 'sudo systemd-run --quiet --on-active=1 /bin/systemctl reboot');
    // /run is a fresh tmpfs on every boot: once the marker there is gone, the guest has rebooted.
    const files = await until('the guest to come back after reboot', 90_000, async () => {
      const { stdout } = await runInGuest(target, 'ls /var/tmp/kept /run/forgotten 2>/dev/null; systemctl is-system-running');
      return /running|degraded/.test(stdout) && !stdout.includes('/run/forgotten') ? stdout : undefined;
    });
    assert.match(files, /\/var\/tmp\/kept/);
    assert.equal((await sandboxStatus(options)).guestPid, before.guestPid, 'the same supervisor started nspawn again');
  });

  it('down stops it and leaves no interface, mount, namespace or process behind', async () => {
    const run = await cli(['down', '--name', name]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`sandbox "${name}" stopped`));
    assert.deepEqual(hostSnapshot(name), before_);
    assert.equal(linkExists(target.bridge), false, `bridge ${target.bridge} removed`);
    assert.equal((await sandboxStatus(options)).running, false);
  });

  it('a warm up starts a fresh instance: nothing of the last one survives', async (t) => {
    const t0 = Date.now();
    const up = await sandboxUp(options);
    t.diagnostic(`warm up: ${((Date.now() - t0) / 1000).toFixed(1)}s to SSH-ready (boot ${up.bootSeconds.toFixed(1)}s)`);
    assert.equal(up.imageBuilt, false);
    const { stdout } = await runInGuest(up, 'ls /var/tmp/kept 2>&1; command -v hello || echo no-hello');
    assert.match(stdout, /No such file/);
    assert.match(stdout, /no-hello/);
    await sandboxDown(options);
    assert.deepEqual(hostSnapshot(name), before_);
  });
});
