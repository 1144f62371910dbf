import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execa } from 'execa';
import { prometheusFiles } from '../../../lib/render/prometheus.js';
import { exampleHost } from '../../fixtures/inventories/hosts.js';
import { tempDir, tool } from './tools.js';

/** The rendered scrape config and rules, read by the real promtool (Debian's prometheus package). */
describe('Prometheus: scrape config and alert rules for every host', () => {
  const hosts = [exampleHost('prod'), exampleHost('sandbox')];
  const write = (dir: string) => {
    for (const f of prometheusFiles(hosts)) writeFileSync(join(dir, f.name), f.content);
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
    }
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
});
