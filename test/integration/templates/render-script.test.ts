import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { execa } from 'execa';
import { EXAMPLE_INVENTORY, FAKE_SECRET_ENV, REPO } from '../../fixtures/inventories/hosts.js';
import { tempDir } from './tools.js';

const BROKEN = join(REPO, 'test/fixtures/inventories/broken/relay-range-reversed.yaml');

/** `npx zx scripts/render.mjs ...` as an operator runs it, with only the secrets given here in its environment. */
async function render(args: string[], secrets: Record<string, string> = FAKE_SECRET_ENV) {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...secrets };
  const result = await execa(join(REPO, 'node_modules/.bin/zx'), ['scripts/render.mjs', ...args], { cwd: REPO, env, extendEnv: false, reject: false, timeout: 30_000 });
  return { status: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

describe('npx zx scripts/render.mjs', () => {
  before(() => assert.ok(existsSync(join(REPO, 'dist/lib/render/command.js')), 'dist/ is missing: run npm run build (npm ci does it)'));

  test('renders the sandbox host: exit 0 and a summary', async () => {
    const { status, stdout, stderr } = await render(['sandbox']);
    assert.equal(status, 0, stderr);
    assert.match(stdout, /^Rendered 14 files for sandbox \(not written: pass --out DIR\)$/m);
  });

  test('--out DIR writes the files; --json describes them', async (t) => {
    const out = join(tempDir(t, 'render-script'), 'out');
    const { status, stdout } = await render(['sandbox', '--out', out, '--json', '-i', EXAMPLE_INVENTORY]);
    assert.equal(status, 0);
    const result = JSON.parse(stdout) as { out: string; files: { path: string }[] };
    assert.equal(result.out, out);
    for (const f of result.files) assert.ok(existsSync(join(out, f.path)), f.path);
    assert.ok(readdirSync(out).includes('rtcops-render.json'));
  });

  test('exit 2 for an inventory error, naming the path in the file', async () => {
    const { status, stdout, stderr } = await render(['prod', '-i', BROKEN]);
    assert.equal(status, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /relay-range-reversed\.yaml:\d+: hosts\.prod\.turn\.relayPorts: min 50000 must be < max 40000/);
  });

  test('exit 2 for a missing secret, naming the variable', async () => {
    const { RTCOPS_SANDBOX_JWT_SECRET: _, ...without } = FAKE_SECRET_ENV;
    const { status, stderr } = await render(['sandbox'], without);
    assert.equal(status, 2);
    assert.match(stderr, /hosts\.sandbox\.secrets\.jwtSecret: environment variable RTCOPS_SANDBOX_JWT_SECRET is not set/);
  });

  test('exit 2 for usage errors; --help exits 0', async () => {
    assert.equal((await render([])).status, 2);
    assert.equal((await render(['sandbox', '--nope'])).status, 2);
    const help = await render(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: npx zx scripts\/render\.mjs <host> \[--out DIR\]/);
  });
});
