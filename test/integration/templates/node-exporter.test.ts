import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import bcrypt from 'bcryptjs';
import { execa } from 'execa';
import { NODE_EXPORTER_WEB_CONFIG } from '../../../lib/host/index.js';
import { Secret } from '../../../lib/inventory/index.js';
import { NODE_EXPORTER_USER } from '../../../lib/render/node-exporter.js';
import { adminTokenFile, nodeExporterPasswordFile, prometheusFiles } from '../../../lib/render/prometheus.js';
import { exampleHost, fakeSecrets } from '../../fixtures/inventories/hosts.js';
import { freePort, rendered, startPrometheus, tempDir, tool, writeFile } from './tools.js';

const host = exampleHost('sandbox');
const password = fakeSecrets(host).adminToken.reveal();

/** The rendered web config and ARGS line, run by the real node_exporter (Debian's prometheus-node-exporter) on loopback. */
async function startExporter(t: TestContext, webConfig = rendered(host, 'node-exporter-web').content): Promise<{ port: number; url: string; child: ChildProcess }> {
  const dir = tempDir(t, 'node-exporter');
  const web = writeFile(join(dir, 'web.yml'), webConfig);
  const args = /^ARGS="(.*)"$/m.exec(rendered(host, 'node-exporter-defaults').content)?.[1];
  assert.ok(args !== undefined, 'the defaults file sets ARGS');
  const port = await freePort();
  // The only changes for the test: loopback and a free port instead of every address on nodeExporter.port, the web config in the temp dir.
  const argv = args.split(' ').map((a) => a.replace(`--web.listen-address=:${host.nodeExporter.port}`, `--web.listen-address=127.0.0.1:${port}`).replace(NODE_EXPORTER_WEB_CONFIG, web));
  const child = spawn(tool('prometheus-node-exporter', 'prometheus-node-exporter'), [...argv, '--collector.disable-defaults', '--collector.loadavg'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  t.after(() => child.kill('SIGTERM'));
  const url = `http://127.0.0.1:${port}/metrics`;
  const deadline = Date.now() + 10_000;
  while (await fetch(url).then(() => false, () => true)) {
    if (child.exitCode !== null || Date.now() > deadline) assert.fail(`node_exporter did not listen on ${port}:\n${stderr.slice(-2000)}`);
    await sleep(50);
  }
  return { port, url, child };
}

const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

describe('node_exporter: the inventory\'s port, and a password on every request (not only the firewall)', () => {
  it('the defaults file sets the port and the web config; the web config holds a bcrypt hash of the password, never the password', () => {
    const defaults = rendered(host, 'node-exporter-defaults');
    assert.match(defaults.content, new RegExp(`^ARGS="--web.listen-address=:${host.nodeExporter.port} --web.config.file=${NODE_EXPORTER_WEB_CONFIG}"$`, 'm'));
    const web = rendered(host, 'node-exporter-web');
    assert.deepEqual([web.mode, web.owner, web.group, web.secret], ['0640', 'root', 'prometheus', true]);
    assert.ok(!web.content.includes(password));
    const hash = /^ {2}prometheus: '(\$2b\$10\$.{53})'$/m.exec(web.content)?.[1];
    assert.ok(hash !== undefined, web.content);
    assert.ok(bcrypt.compareSync(password, hash));
    assert.equal(rendered(host, 'node-exporter-web').content, web.content, 'the same password renders the same file (a re-run changes nothing)');
    const own = rendered(host, 'node-exporter-web', { nodeExporterPassword: new Secret(`own-node-exporter-password-${'y'.repeat(20)}`) }).content;
    assert.notEqual(own, web.content, 'secrets.nodeExporterPassword replaces the admin token');
    const ubuntu = structuredClone(host);
    ubuntu.os = 'ubuntu-22.04';
    assert.match(rendered(ubuntu, 'node-exporter-defaults').content, / --web\.config=\//, 'node_exporter 1.3.1 still has the old flag name');
  });

  it('nodeExporter.enabled false: neither file is rendered', () => {
    const off = structuredClone(host);
    off.nodeExporter.enabled = false;
    assert.throws(() => rendered(off, 'node-exporter-web'), /no rendered file/);
    assert.throws(() => rendered(off, 'node-exporter-defaults'), /no rendered file/);
  });

  it('promtool check web-config accepts the web config', async (t) => {
    const file = writeFile(join(tempDir(t, 'node-exporter-web'), 'web.yml'), rendered(host, 'node-exporter-web').content);
    const r = await execa(tool('promtool', 'prometheus'), ['check', 'web-config', file], { reject: false });
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  });

  it('the host-side check (as the prometheus user): the rendered file passes, a broken hash fails', async (t) => {
    const validate = rendered(host, 'node-exporter-web').validate;
    assert.ok(validate !== undefined);
    const dir = tempDir(t, 'node-exporter-validate');
    chmodSync(dir, 0o755);
    const check = async (content: string) => {
      const file = join(dir, 'web.yml');
      writeFileSync(file, content, { mode: 0o644 });
      return execa('sh', ['-ec', validate], { env: { RTCOPS_FILE: file }, reject: false, all: true });
    };
    const good = await check(rendered(host, 'node-exporter-web').content);
    assert.equal(good.exitCode, 0, String(good.all));
    const bad = await check(rendered(host, 'node-exporter-web').content.replace(/\$2b\$10\$.*'/, "$2b$10$short'"));
    assert.notEqual(bad.exitCode, 0);
    assert.match(String(bad.all), /bcrypt/);
  });

  it('the real node_exporter: 401 without credentials, with a wrong password or user; 200 with the password', async (t) => {
    const { url } = await startExporter(t);
    const status = async (headers: Record<string, string> = {}) => (await fetch(url, { headers })).status;
    assert.equal(await status(), 401, 'no credentials');
    assert.equal(await status(basic(NODE_EXPORTER_USER, `${password}x`)), 401, 'wrong password');
    assert.equal(await status(basic('admin', password)), 401, 'wrong user');
    const ok = await fetch(url, { headers: basic(NODE_EXPORTER_USER, password) });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /^node_load1 /m);
  });

  it('a real Prometheus scrapes it with the rendered job and the password from its file: up{job="rtcops-node"} = 1', async (t) => {
    const { port } = await startExporter(t);
    const dir = tempDir(t, 'prometheus-node');
    const files = prometheusFiles([host]);
    for (const f of files) writeFileSync(join(dir, f.name), f.content);
    writeFile(join(dir, adminTokenFile(host.name)), `${password}\n`);
    writeFile(join(dir, nodeExporterPasswordFile(host.name)), `${password}\n`);
    // The only changes for the test: scraped every second, the node_exporter job only, its target on loopback.
    let scrape = files[0]?.content ?? '';
    scrape = scrape.replace(/scrape_interval: \d+s/, 'scrape_interval: 1s').replace(/ {2}- job_name: rtcops-app-[\s\S]*?(?= {2}# node_exporter)/, '');
    scrape = scrape.replace(`- targets: ['${host.ssh.address}:${host.nodeExporter.port}']`, `- targets: ['127.0.0.1:${port}']`);
    assert.match(scrape, new RegExp(`job_name: rtcops-node-${host.name}\\n\\s+basic_auth:\\n\\s+username: prometheus\\n\\s+password_file: ${nodeExporterPasswordFile(host.name)}`));
    assert.doesNotMatch(scrape, /rtcops-app-/);
    const { query, waitFor } = await startPrometheus(t, dir, scrape);
    await waitFor('up{job="rtcops-node"}', `${host.name} 1`);
    assert.equal((await query('node_load1{job="rtcops-node"}')).length, 1, 'node_exporter\'s metrics arrive with job="rtcops-node" (the rules read them so)');
  });
});
