import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { logsSinceScript } from '../../../lib/deploy/commands.js';
import { exampleHost } from '../../fixtures/inventories/hosts.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-logs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('what a failed release logged: only its own lines since the deploy began, not the probes\' calls', () => {
  const base = exampleHost('sandbox');
  const host = { ...base, app: { ...base.app, outLog: join(dir, 'out.log'), errorLog: join(dir, 'err.log') } };
  writeFileSync(host.app.outLog, '{"msg":"the release before"}\n');
  writeFileSync(host.app.errorLog, '');
  const offsets = [statSync(host.app.outLog).size, 0];
  appendFileSync(host.app.outLog, [
    '{"event":"peer_connected","room":"rtcops-deploy-3f2a","peer":"probe","msg":"peer connected"}',
    '{"msg":"listening on 3001"}',
    '{"event":"peer_left","room":"rtcops-health-9c","code":1006,"msg":"peer disconnected"}',
    '{"event":"peer_connected","room":"standup","peer":"ann","msg":"peer connected"}',
  ].join('\n') + '\n');
  appendFileSync(host.app.errorLog, 'Error: boom\n');
  // As the runner runs scripts: set -euo pipefail.
  const out = execFileSync('bash', ['-c', `set -euo pipefail\n${logsSinceScript(host, offsets)}`], { encoding: 'utf8' });
  assert.deepEqual(out.trim().split('\n'), [
    'out: {"msg":"listening on 3001"}',
    'out: {"event":"peer_connected","room":"standup","peer":"ann","msg":"peer connected"}',
    'err: Error: boom',
  ]);
});

test('a log with nothing but probe calls since then does not stop the script: the error log is still read', () => {
  const base = exampleHost('sandbox');
  const host = { ...base, app: { ...base.app, outLog: join(dir, 'out2.log'), errorLog: join(dir, 'err2.log') } };
  writeFileSync(host.app.outLog, '{"event":"peer_connected","room":"rtcops-deploy-1","msg":"peer connected"}\n');
  writeFileSync(host.app.errorLog, 'Error: crash on start\n');
  const out = execFileSync('bash', ['-c', `set -euo pipefail\n${logsSinceScript(host, [0, 0])}`], { encoding: 'utf8' });
  assert.equal(out, 'err: Error: crash on start\n');
});
