import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { EXAMPLE_INVENTORY, fakeSandboxHome, REPO } from '../../fixtures/inventories/hosts.js';
import { tempDir } from './tools.js';

const BROKEN = join(REPO, 'test/fixtures/inventories/broken/relay-range-reversed.yaml');

// The example's sandbox reads ~/.cache/rtcops/sandbox/secrets.yaml: a temporary home holds a fake one.
const home = fakeSandboxHome();
after(() => rmSync(home, { recursive: true, force: true }));

/** `npx zx scripts/render.mjs ...` as an operator runs it, with this home (its sandbox secrets file) and nothing else in its environment. */
async function render(args: string[], homeDir = home) {
  const env = { PATH: process.env.PATH ?? '', HOME: homeDir };
  const result = await execa(join(REPO, 'node_modules/.bin/zx'), ['scripts/render.mjs', ...args], { cwd: REPO, env, extendEnv: false, reject: false, timeout: 30_000 });
  return { status: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

describe('npx zx scripts/render.mjs', () => {
  before(() => assert.ok(existsSync(join(REPO, 'dist/lib/render/command.js')), 'dist/ is missing: run npm run build (npm ci does it)'));

  test('renders the sandbox host: exit 0 and a summary', async () => {
    const { status, stdout, stderr } = await render(['sandbox']);
    assert.equal(status, 0, stderr);
    assert.match(stdout, /^Rendered 21 files for sandbox \(not written: pass --out DIR\)$/m);
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

  test('exit 2 for a missing secret, naming the key and file', async (t) => {
    const without = fakeSandboxHome(['jwt_secret']);
    t.after(() => rmSync(without, { recursive: true, force: true }));
    const { status, stderr } = await render(['sandbox'], without);
    assert.equal(status, 2);
    assert.match(stderr, /hosts\.sandbox\.secrets\.jwtSecret: key "jwt_secret" of \S+\/\.cache\/rtcops\/sandbox\/secrets\.yaml is not set/);
  });

  test('exit 2 for usage errors; --help exits 0', async () => {
    assert.equal((await render([])).status, 2);
    assert.equal((await render(['sandbox', '--nope'])).status, 2);
    const help = await render(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: npx zx scripts\/render\.mjs <host> \[--out DIR\]/);
  });
});
