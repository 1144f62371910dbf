import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execa } from 'execa';
import { adminTokenFile, nodeExporterPasswordFile, prometheusFiles } from '../../../lib/render/prometheus.js';
import { exampleHost, fakeSecrets } from '../../fixtures/inventories/hosts.js';
import { startPrometheus, tempDir, tool, writeFile } from './tools.js';

/** The rendered scrape config and rules, read by the real promtool (Debian's prometheus package). */
describe('Prometheus: scrape config and alert rules for every host', () => {
  const hosts = [exampleHost('prod'), exampleHost('sandbox')];
  /** The two files, and each host's admin token where the scrape config's note says to put it. */
  const write = (dir: string, tokens = true) => {
    for (const f of prometheusFiles(hosts)) writeFileSync(join(dir, f.name), f.content);
    if (tokens) {
      for (const h of hosts) {
        writeFile(join(dir, adminTokenFile(h.name)), `${fakeSecrets(h).adminToken.reveal()}\n`);
        writeFile(join(dir, nodeExporterPasswordFile(h.name)), `${fakeSecrets(h).adminToken.reveal()}\n`);
      }
    }
  };

  it('promtool check config and check rules accept them; every host is a target of both jobs', async (t) => {
    const promtool = tool('promtool', 'prometheus');
    const dir = tempDir(t, 'prometheus');
    write(dir);
    const config = await execa(promtool, ['check', 'config', join(dir, 'rtcops-scrape.yml')], { reject: false });
    assert.equal(config.exitCode, 0, `${config.stdout}\n${config.stderr}`);
    const rules = await execa(promtool, ['check', 'rules', join(dir, 'rtcops-rules.yml')], { reject: false });
    assert.equal(rules.exitCode, 0, `${rules.stdout}\n${rules.stderr}`);
    assert.match(rules.stdout, /SUCCESS: 7 rules found/);
    const scrape = prometheusFiles(hosts)[0]?.content ?? '';
    for (const h of hosts) {
      assert.match(scrape, new RegExp(`- targets: \\['${h.app.domains[0] ?? ''}'\\]\\n\\s+labels: \\{ rtcops_host: '${h.name}' \\}`));
      assert.match(scrape, new RegExp(`- targets: \\['${h.ssh.address}:${h.nodeExporter.port}'\\]`));
      assert.match(scrape, new RegExp(`^#   ${h.name}: rtcops-tokens/${h.name}\\.admin-token$`, 'm'), 'the note says where each host\'s token goes');
      assert.match(scrape, new RegExp(`^#   ${h.name}: rtcops-tokens/${h.name}\\.node-exporter-password$`, 'm'), 'and its node_exporter password');
    }
  });

  it('a host\'s admin token file missing: promtool check config names it', async (t) => {
    const dir = tempDir(t, 'prometheus-no-token');
    write(dir, false);
    const config = await execa(tool('promtool', 'prometheus'), ['check', 'config', join(dir, 'rtcops-scrape.yml')], { reject: false });
    assert.notEqual(config.exitCode, 0);
    assert.match(`${config.stdout}\n${config.stderr}`, /rtcops-tokens\/prod\.admin-token": stat .*no such file/);
  });

  it('promtool test rules: a silent host, a crash loop (and one restart that is not), a dead worker', async (t) => {
    const promtool = tool('promtool', 'prometheus');
    const dir = tempDir(t, 'prometheus-test');
    write(dir);
    const prod = hosts[0];
    assert.ok(prod !== undefined);
    const silentMin = Math.max(1, Math.round((2 * prod.daemon.intervalSec) / 60));
    const app = { job: 'rtcops-app', instance: 'rtc.example.com', rtcops_host: 'prod' };
    const series = (name: string, labels: Record<string, string>) => `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
    const runbook = prod.alerts.runbookUrl ?? 'RUNBOOK.md';
    const tests = {
      rule_files: ['rtcops-rules.yml'],
      evaluation_interval: '1m',
      tests: [{
        interval: '1m',
        input_series: [
          { series: series('up', app), values: `1 1 ${Array(silentMin + 2).fill('0').join(' ')}` },
          { series: series('process_start_time_seconds', app), values: '100 100 100 400 400 700 700 700 700 700 700 700 700 700 700 700 700' },
          { series: series('process_start_time_seconds', { ...app, rtcops_host: 'other' }), values: '100 100 100 400 400 400 400 400 400 400 400 400 400' },
          { series: series('rtcops_worker_alive', { ...app, worker: '1' }), values: '1 1 0 0 0' },
        ],
        alert_rule_test: [
          { eval_time: '1m', alertname: 'RtcopsHostSilent', exp_alerts: [] },
          { eval_time: `${2 + silentMin}m`, alertname: 'RtcopsHostSilent', exp_alerts: [{ exp_labels: { severity: 'critical', ...app }, exp_annotations: { summary: 'prod: rtcops-app does not answer (host down, firewall, or the process stopped)', runbook: `${runbook}#host-lost` } }] },
          { eval_time: '6m', alertname: 'RtcopsCrashLoop', exp_alerts: [{ exp_labels: { severity: 'critical', ...app }, exp_annotations: { summary: 'prod: the server restarted 2 times in 10 min; every restart drops every call', runbook: `${runbook}#pm2` } }] },
          { eval_time: '4m', alertname: 'RtcopsWorkerDead', exp_alerts: [{ exp_labels: { severity: 'critical', ...app, worker: '1' }, exp_annotations: { summary: 'prod: a mediasoup worker is dead: its rooms cannot carry media', runbook: `${runbook}#server` } }] },
        ],
      }],
    };
    writeFileSync(join(dir, 'rules.test.yml'), JSON.stringify(tests));
    const r = await execa(promtool, ['test', 'rules', join(dir, 'rules.test.yml')], { reject: false });
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /SUCCESS/);
  });

  it('a real Prometheus scrapes each host with that host\'s token from its file, as job="rtcops-app"', async (t) => {
    const dir = tempDir(t, 'prometheus-live');
    write(dir);
    const tokens = new Map(hosts.map((h) => [h.name, `${h.name}-admin-token-${'x'.repeat(32)}`]));
    for (const [name, token] of tokens) writeFile(join(dir, adminTokenFile(name)), `${token}\n`);
    const seen = new Set<string>();
    const app = createServer((req, res) => {
      const presented = req.headers.authorization ?? '';
      seen.add(presented);
      const ok = req.url === '/metrics' && [...tokens.values()].some((token) => presented === `Bearer ${token}`);
      res.writeHead(ok ? 200 : 401, { 'content-type': 'text/plain; version=0.0.4' }).end(ok ? 'rtcops_rooms 1\n' : 'admin token required\n');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    t.after(() => app.close());
    const appPort = (app.address() as AddressInfo).port;
    // The only changes for the test: plain HTTP to the stand-in on loopback, scraped every second, no node_exporter job.
    let scrape = prometheusFiles(hosts)[0]?.content ?? '';
    scrape = scrape.replace(/scheme: https/g, 'scheme: http').replace(/scrape_interval: \d+s/, 'scrape_interval: 1s').replace(/  - job_name: rtcops-node[\s\S]*$/, '');
    for (const h of hosts) scrape = scrape.replace(`- targets: ['${h.app.domains[0] ?? ''}']`, `- targets: ['127.0.0.1:${appPort}']`);
    const { waitFor } = await startPrometheus(t, dir, scrape);
    await waitFor('up{job="rtcops-app"}', 'prod 1,sandbox 1');
    assert.deepEqual([...seen].sort(), [...tokens.values()].map((token) => `Bearer ${token}`).sort(), 'each host\'s own token, nothing else');
  });
});
