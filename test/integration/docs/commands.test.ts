import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { execa } from 'execa';

const REPO = join(import.meta.dirname, '../../..');
const docs = ['RUNBOOK.md', 'README.md'].map((name) => ({ name, text: readFileSync(join(REPO, name), 'utf8') }));

/** Every `<x>.mjs ... --flag` in inline code or a code block, as an operator would type it. */
function commands(text: string): { script: string; flags: string[]; line: string }[] {
  const spans = [...text.matchAll(/```[a-z]*\n([\s\S]*?)```|`([^`\n]+)`/g)].flatMap((m) => (m[1] ?? m[2] ?? '').split('\n'));
  return spans.flatMap((span) => [...span.matchAll(/(?:scripts\/)?([a-z-]+)\.mjs\b([^|;&]*)/g)].map((m) => ({
    script: m[1] ?? '',
    flags: [...(m[2] ?? '').matchAll(/(?<![\w-])--([a-z][a-z-]*)/g)].map((f) => f[1] ?? ''),
    line: span.trim(),
  })));
}

/** The options a script really takes, from its own --help. */
async function optionsOf(script: string): Promise<Set<string>> {
  const r = await execa(join(REPO, 'node_modules/.bin/zx'), [`scripts/${script}.mjs`, '--help'], { cwd: REPO, reject: false });
  assert.equal(r.exitCode, 0, `${script}.mjs --help: ${r.stderr}`);
  return new Set([...r.stdout.matchAll(/(?<![\w-])--([a-z][a-z-]*)/g)].map((m) => m[1] ?? ''));
}

describe('every command line in RUNBOOK.md and README.md uses options the script has', () => {
  for (const doc of docs) {
    test(doc.name, async () => {
      const cmds = commands(doc.text).filter((c) => c.script !== 'main');
      assert.ok(cmds.length >= 10, `${doc.name}: only ${cmds.length} commands found`);
      const scripts = [...new Set(cmds.map((c) => c.script))];
      const options = new Map(await Promise.all(scripts.map(async (s) => [s, await optionsOf(s)] as const)));
      const wrong = cmds.flatMap((c) => c.flags.filter((f) => !options.get(c.script)?.has(f)).map((f) => `${c.script}.mjs --${f} (in: ${c.line})`));
      assert.deepEqual(wrong, []);
    });
  }
});
