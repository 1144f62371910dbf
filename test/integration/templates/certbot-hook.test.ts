import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { exampleHost } from '../../fixtures/inventories/hosts.js';
import { rendered, run, tempDir, tool, writeFile } from './tools.js';

/**
 * A Let's Encrypt tree as certbot leaves it (0700 directories, 0600 key, live/ symlinks into archive/),
 * bind-mounted over /etc/letsencrypt in a private mount namespace. systemctl is the one stand-in: it
 * records what the hook asks of nginx and coturn.
 */
function letsencrypt(t: TestContext, lineage: string) {
  const dir = tempDir(t, 'certbot-hook');
  const le = join(dir, 'letsencrypt');
  for (const d of ['live', 'archive', `live/${lineage}`, `archive/${lineage}`]) mkdirSync(join(le, d), { recursive: true, mode: 0o700 });
  for (const [name, mode] of [['privkey1.pem', 0o600], ['fullchain1.pem', 0o644]] as const) {
    writeFile(join(le, 'archive', lineage, name), 'pem\n');
    chmodSync(join(le, 'archive', lineage, name), mode);
    symlinkSync(`../../archive/${lineage}/${name}`, join(le, 'live', lineage, name.replace('1', '')));
  }
  writeFile(join(le, 'rtcops-test-tree'), '');
  writeFile(join(dir, 'bin/systemctl'), `#!/bin/sh\necho "$*" >> ${dir}/systemctl.log\n`);
  chmodSync(join(dir, 'bin/systemctl'), 0o755);
  const hook = writeFile(join(dir, 'hook.sh'), rendered(exampleHost('sandbox'), 'certbot-deploy-hook').content);
  const script = writeFile(
    join(dir, 'run.sh'),
    `set -eu\nmount --bind ${le} /etc/letsencrypt\ntest -e /etc/letsencrypt/rtcops-test-tree\nexport PATH=${dir}/bin:$PATH\nexec sh ${hook}\n`,
  );
  const runHook = (renewedLineage: string) =>
    run(tool('unshare', 'util-linux'), ['--mount', '--propagation', 'private', 'sh', script], { env: { RENEWED_LINEAGE: renewedLineage, PATH: process.env.PATH ?? '' } });
  const calls = () => (existsSync(join(dir, 'systemctl.log')) ? readFileSync(join(dir, 'systemctl.log'), 'utf8').trim().split('\n') : []);
  const stat = (path: string) => {
    const s = statSync(join(le, path));
    return { mode: (s.mode & 0o777).toString(8), gid: s.gid };
  };
  return { runHook, calls, stat };
}

describe('certbot deploy hook, run by sh against a real Let\'s Encrypt tree', () => {
  test('after a renewal of the host certificate: coturn can read the key, nginx reloads, coturn re-reads', async (t) => {
    assert.ok(existsSync('/etc/letsencrypt'), '/etc/letsencrypt is missing: apt-get install certbot');
    const turnserverGid = Number(execFileSync('getent', ['group', 'turnserver'], { encoding: 'utf8' }).split(':')[2]);
    const le = letsencrypt(t, 'rtc.sandbox.test');
    const { exitCode, output } = await le.runHook('/etc/letsencrypt/live/rtc.sandbox.test');
    assert.equal(exitCode, 0, output);
    assert.deepEqual(le.stat('archive/rtc.sandbox.test/privkey1.pem'), { mode: '640', gid: turnserverGid });
    for (const d of ['live', 'archive', 'live/rtc.sandbox.test', 'archive/rtc.sandbox.test']) assert.deepEqual(le.stat(d), { mode: '751', gid: turnserverGid }, d);
    assert.deepEqual(le.calls(), ['reload nginx', 'kill --signal=SIGUSR2 coturn.service']);
  });

  test('another certificate on the machine is left alone', async (t) => {
    const le = letsencrypt(t, 'other.example.com');
    const { exitCode, output } = await le.runHook('/etc/letsencrypt/live/other.example.com');
    assert.equal(exitCode, 0, output);
    assert.equal(le.stat('archive/other.example.com/privkey1.pem').mode, '600');
    assert.deepEqual(le.calls(), []);
  });
});
