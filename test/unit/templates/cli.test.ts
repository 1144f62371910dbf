import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { EXIT, parseCli, reportError, scriptArgs, UsageError, type Io } from '../../../lib/cli.js';
import { InventoryError } from '../../../lib/inventory/index.js';

function capture(): Io & { out: (t: string) => void; text: { out: string[]; err: string[] } } {
  const text = { out: [] as string[], err: [] as string[] };
  return { out: (t) => text.out.push(t), err: (t) => text.err.push(t), text };
}

const spec = { usage: 'x.mjs <host>', description: 'Does x.', options: { out: { type: 'string', short: 'o' } }, help: { out: 'Where' } } as const;

describe('lib/cli.ts: the conventions every script shares', () => {
  test('defaults: ./inventory.yaml (absolute), no JSON', () => {
    const args = parseCli(spec, ['sandbox']);
    assert.deepEqual([args?.inventory, args?.json, args?.positionals], [resolve('inventory.yaml'), false, ['sandbox']]);
  });

  test('-i, --json and command options', () => {
    const args = parseCli(spec, ['-i', '/tmp/inv.yaml', '--json', 'prod', '-o', 'dir']);
    assert.deepEqual([args?.inventory, args?.json, args?.positionals, args?.values.out], ['/tmp/inv.yaml', true, ['prod'], 'dir']);
  });

  test('--help prints usage, options and exit codes', () => {
    const io = capture();
    assert.equal(parseCli(spec, ['--help'], io), undefined);
    const help = io.text.out.join('\n');
    assert.match(help, /^Usage: npx zx scripts\/x\.mjs <host>/);
    assert.match(help, /-o, --out <value> +Where/);
    assert.match(help, /-i, --inventory <file>/);
    assert.match(help, /Exit status: 0 success, 1 something failed on a host, 2 usage or inventory error\./);
  });

  test('an unknown option is a usage error', () => assert.throws(() => parseCli(spec, ['--nope']), UsageError));

  const errors: [name: string, error: unknown, status: number, stderr: RegExp][] = [
    ['inventory error', new InventoryError('inventory.yaml', [{ path: 'hosts.a.app.port', message: 'must be at least 1', line: 3 }]), EXIT.usage, /inventory\.yaml:3: hosts\.a\.app\.port: must be at least 1/],
    ['usage error', new UsageError('render: name the host'), EXIT.usage, /render: name the host\nRun with --help for usage\./],
    ['anything else', new Error('ssh: connection refused'), EXIT.failed, /^error: ssh: connection refused$/],
  ];
  for (const [name, error, status, stderr] of errors) {
    test(`${name}: exit ${status}, message on stderr, JSON on stdout with --json`, () => {
      const io = capture();
      assert.equal(reportError(error, true, io), status);
      assert.match(io.text.err.join('\n'), stderr);
      assert.equal((JSON.parse(io.text.out.join('')) as { ok: boolean }).ok, false);
    });
  }

  test('scriptArgs finds the arguments after the script, under zx or node', () => {
    const script = resolve('scripts/render.mjs');
    const url = pathToFileURL(script).href;
    assert.deepEqual(scriptArgs(url, ['/usr/bin/node', '/repo/node_modules/.bin/zx', 'scripts/render.mjs', 'sandbox', '--json']), ['sandbox', '--json']);
    assert.deepEqual(scriptArgs(url, ['/usr/bin/node', script, 'sandbox']), ['sandbox']);
  });
});
