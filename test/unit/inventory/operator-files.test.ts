import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { backupMain } from '../../../lib/backup/command.js';
import { checkMain } from '../../../lib/checks/command.js';
import { deployMain } from '../../../lib/deploy/command.js';
import { loadInventory, operatorFileIssues } from '../../../lib/inventory/index.js';
import { provisionMain } from '../../../lib/provision/command.js';
import { runMain } from '../../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-operator-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const key = join(dir, 'id_ed25519');
const known = join(dir, 'known_hosts');
const ca = join(dir, 'ca.pem');
const roots = join(dir, 'roots.pem');
for (const f of [key, known, ca, roots]) writeFileSync(f, 'x\n', { mode: 0o600 });
mkdirSync(join(dir, 'a-directory'));
const env = { OF_JWT: 'of-jwt-secret-not-real-0000000000000000000', OF_ADMIN: 'of-admin-token-not-real-00000000000000000', OF_TURN: 'of-turn-secret-not-real-0000000000000000' };

/** One host on loopback at a port nothing listens on (a command that connected would exit 1, not 2). */
function inventory(name: string, files: { keyPath?: string; knownHostsFile?: string; caBundle?: string; issuerRoots?: string } = {}): string {
  const f = { keyPath: key, knownHostsFile: known, caBundle: ca, issuerRoots: roots, ...files };
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `
hosts:
  of:
    os: debian-12
    adminCidrs: [127.0.0.1/32]
    ssh: { address: 127.0.0.1, port: 9, user: root, keyPath: ${f.keyPath}, knownHostsFile: ${f.knownHostsFile}, connectTimeoutMs: 1000 }
    acme: { email: ops@example.test, directoryUrl: https://127.0.0.1:14000/dir, caBundle: ${f.caBundle}, issuerRoots: ${f.issuerRoots} }
    secrets: { jwtSecret: { env: OF_JWT }, adminToken: { env: OF_ADMIN }, turnSecret: { env: OF_TURN } }
    app: { domains: [rtc.example.test] }
    mediasoup: { announcedIp: 192.0.2.10 }
    turn: { domain: turn.example.test }
`);
  return file;
}

const issues = (file: string) => operatorFileIssues(loadInventory(file).hosts['of']!).map((i) => `${i.path}: ${i.message}`);
const missing = join(dir, 'nowhere', 'file.pem');

describe('files the inventory names on the operator machine: checked before anything connects', () => {
  test('all present: no issue', () => assert.deepEqual(issues(inventory('all')), []));
  for (const [key, value, problem] of [
    ['ssh.keyPath', missing, 'does not exist'],
    ['ssh.knownHostsFile', missing, 'does not exist'],
    ['acme.caBundle', join(dir, 'a-directory'), 'is not a file'],
    ['acme.issuerRoots', missing, 'does not exist'],
  ] as const) {
    test(`${key} ${problem}`, () => {
      const field = key.split('.')[1] as 'keyPath';
      assert.deepEqual(issues(inventory(field, { [field]: value })), [`hosts.of.${key}: ${value} ${problem}: create it, or point ${key} at the right file`]);
    });
  }

  test('reaching the host over SSH needs only the SSH files: a missing acme.caBundle is provision\'s problem, not a deploy\'s', () => {
    const host = loadInventory(inventory('connect', { caBundle: missing })).hosts['of']!;
    assert.deepEqual(operatorFileIssues(host, 'connect'), []);
    assert.deepEqual(operatorFileIssues(host, 'provision').map((i) => i.path), ['hosts.of.acme.caBundle']);
  });
  for (const [name, main] of Object.entries({ 'deploy.mjs': deployMain, 'backup.mjs': backupMain } as const)) {
    test(`${name}: a missing acme.caBundle (certbot on the host reads it, at provision) does not stop it: it goes on to connect`, async () => {
      const r = await runMain(main, ['of', '-i', inventory(`ca-${name.replace(/\W/g, '')}`, { caBundle: missing })], env).catch((error: Error) => ({ code: 2, out: '', err: error.message }));
      assert.doesNotMatch(r.err, /acme\.caBundle/);
      // deploy goes on to the connection (refused: exit 1); backup to its next input, the key (none here: exit 2).
      if (name === 'deploy.mjs') assert.equal(r.code, 1, r.err);
      else assert.match(r.err, /no backup key/);
    });
  }

  const mains = { 'provision.mjs': provisionMain, 'provision.mjs --check': provisionMain, 'deploy.mjs': deployMain, 'backup.mjs': backupMain, 'check.mjs': checkMain } as const;
  for (const [name, main] of Object.entries(mains)) {
    test(`${name}: a missing acme.issuerRoots is exit 2 naming the key and the path, with no connection`, async () => {
      const args = ['of', '-i', inventory(`cli-${name.replace(/\W/g, '')}`, { issuerRoots: missing }), ...(name.endsWith('--check') ? ['--check'] : [])];
      const r = await runMain(main, args, env).catch((error: Error) => ({ code: 2, out: '', err: error.message }));
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, new RegExp(`hosts\\.of\\.acme\\.issuerRoots: ${missing.replace(/[.]/g, '\\.')} does not exist`));
      assert.doesNotMatch(r.err, /ECONNREFUSED|connection refused/);
    });
  }
});
