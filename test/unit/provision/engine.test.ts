import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveSecrets } from '../../../lib/inventory/index.js';
import { provisionHost } from '../../../lib/provision/engine.js';
import { RecordingRunner, type AnswerTable } from '../../../lib/runner/index.js';
import { EXAMPLE_INVENTORY, FAKE_SECRET_ENV, exampleHost, withEnvSecrets } from '../../fixtures/inventories/hosts.js';

/** A provisioning run against a RecordingRunner: the engine is given the runner, so its calls are a plain list. */
const host = withEnvSecrets(exampleHost('sandbox'));
const secrets = resolveSecrets(host, EXAMPLE_INVENTORY, FAKE_SECRET_ENV);
const u = host.app.user;
const nginxLogs = [`${host.nginx.logDir}/${host.app.name}.access.log`, `${host.nginx.logDir}/${host.app.name}.error.log`];

/** The facts script's output for a host whose app user, directories and logs are as app-user wants them (or not at all). */
function factsOutput(inPlace: boolean): string {
  const rows = ['@@rtcops@@ os', 'debian', '12', 'kvm'];
  if (!inPlace) return `${rows.join('\n')}\n`;
  rows.push(`@@rtcops@@ user ${u}`, 'yes');
  for (const d of [host.app.root, host.app.releasesDir, host.app.sharedDir, host.app.logDir]) rows.push(`@@rtcops@@ file ${d}`, `stat 750 ${u} ${u}`);
  for (const f of [host.app.outLog, host.app.errorLog]) rows.push(`@@rtcops@@ file ${f}`, `stat 640 ${u} ${u}`, 'e3b0c442');
  for (const f of nginxLogs) rows.push(`@@rtcops@@ file ${f}`, 'stat 640 www-data adm', 'e3b0c442');
  return `${rows.join('\n')}\n`;
}

function runner(inPlace: boolean, extra: AnswerTable = []): RecordingRunner {
  return new RecordingRunner(host.name, [...extra, ['SSH_CONNECTION', { stdout: '10.0.0.1\n' }], ['@@rtcops@@ os', { stdout: factsOutput(inPlace) }]]);
}

const summaries = (r: RecordingRunner) => r.calls.map((c) => `${c.kind}${c.root ? ' (root)' : ''}: ${c.summary}`);
const auditLine = (r: RecordingRunner) => JSON.parse(/printf '%s\\n' '(.*)' >>/.exec(r.calls.at(-1)?.text ?? '')?.[1] ?? '{}') as Record<string, unknown>;

describe('a provisioning run, recorded (app-user step)', () => {
  test('a fresh host: facts in one round trip, each missing thing once, then the audit line', async () => {
    const r = runner(false);
    const report = await provisionHost(host, secrets, { only: ['app-user'], connect: r.connect });
    assert.equal(report.status, 'changed');
    assert.deepEqual(summaries(r), [
      'exec: read the SSH client address',
      'script (root): gather facts',
      `script (root): create user ${u}`,
      `script (root): directories ${host.app.root} ${host.app.releasesDir} ${host.app.sharedDir} ${host.app.logDir}`,
      `script (root): log files ${host.app.outLog} ${host.app.errorLog}`,
      `script (root): log files ${nginxLogs.join(' ')}`,
      'script (root): write the audit log',
    ]);
    assert.match(r.calls[2]?.text ?? '', new RegExp(`^useradd --system --create-home --home-dir /home/${u} `));
    assert.equal(auditLine(r)['status'], 'changed');
  });

  test('a host already in place: facts and the audit line, nothing else', async () => {
    const r = runner(true);
    const report = await provisionHost(host, secrets, { only: ['app-user'], connect: r.connect });
    assert.equal(report.status, 'ok');
    assert.deepEqual(summaries(r), ['exec: read the SSH client address', 'script (root): gather facts', 'script (root): write the audit log']);
  });

  test('--check: the plan is reported and nothing runs', async () => {
    const r = runner(false);
    const report = await provisionHost(host, secrets, { only: ['app-user'], check: true, connect: r.connect });
    assert.deepEqual(report.steps[0]?.changes.length, 4);
    assert.deepEqual(summaries(r).filter((s) => !/SSH client|gather facts|audit/.test(s)), []);
  });

  test('a failing action stops the step there, and the audit line says so', async () => {
    const r = runner(false, [['useradd', { code: 9, stderr: 'useradd: cannot lock /etc/passwd' }]]);
    const report = await provisionHost(host, secrets, { only: ['app-user'], connect: r.connect });
    assert.equal(report.status, 'failed');
    assert.match(report.steps[0]?.error ?? '', /cannot lock \/etc\/passwd/);
    assert.deepEqual(summaries(r).slice(2), [`script (root): create user ${u}`, 'script (root): write the audit log']);
    assert.equal(auditLine(r)['status'], 'failed');
  });
});
