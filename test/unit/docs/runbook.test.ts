import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { daemonConfigSchema } from '../../../lib/daemon-config.js';
import { ALL_CHECKS } from '../../../lib/checks/operator.js';

const REPO = join(import.meta.dirname, '../../..');
const runbook = readFileSync(join(REPO, 'RUNBOOK.md'), 'utf8');
const readme = readFileSync(join(REPO, 'README.md'), 'utf8');

/** Explicit anchors (<a id="x"></a>): GitHub and every Markdown viewer keep them as written. */
const anchors = new Set([...runbook.matchAll(/<a id="([a-z0-9-]+)"><\/a>/g)].map((m) => m[1] ?? ''));
/** The sections: each `## ` heading with its text, and the anchors on the lines right above it. */
function parseSections(text: string) {
  const lines = text.split('\n');
  const out: { title: string; ids: string[]; text: string }[] = [];
  lines.forEach((line, i) => {
    if (!line.startsWith('## ')) return;
    const ids: string[] = [];
    for (let j = i - 1; j >= 0 && /^(<a id="[^"]+"><\/a>)?$/.test(lines[j] ?? ''); j--) {
      const id = /^<a id="([^"]+)"><\/a>$/.exec(lines[j] ?? '')?.[1];
      if (id !== undefined) ids.unshift(id);
    }
    const end = lines.findIndex((l, k) => k > i && l.startsWith('## '));
    out.push({ title: line.slice(3), ids, text: lines.slice(i, end === -1 ? undefined : end).join('\n') });
  });
  return out;
}
const sections = parseSections(runbook);
const SUBSECTIONS = ['How you notice', 'Confirm', 'Fix', 'Verify', 'Roll back'];

describe('RUNBOOK.md: every alert links to a section that exists', () => {
  // Alerts link <runbookUrl>#<check>: every check the daemon can run, and the deploy alert (lib/deploy/engine.ts).
  const alertNames = [...Object.keys(daemonConfigSchema.shape.checks.shape), ...ALL_CHECKS, 'deploy'];

  test('each daemon check name and "deploy" has an anchor', () => {
    const missing = [...new Set(alertNames)].filter((n) => !anchors.has(n));
    assert.deepEqual(missing, [], `add <a id="NAME"></a> above the section that handles it`);
  });

  test('the deploy alert still links RUNBOOK.md#deploy', () => {
    // lib/alerting/operator-alert.ts links <runbookUrl>#<check>, as the daemon's alerts do.
    assert.match(readFileSync(join(REPO, 'lib/deploy/engine.ts'), 'utf8'), /sendOperatorAlert\(host, secrets, \{\s*check: 'deploy'/);
  });

  test('the alert index lists every check', () => {
    const index = runbook.slice(runbook.indexOf('## Alert index'), runbook.indexOf('Where things live'));
    for (const n of new Set(alertNames)) assert.match(index, new RegExp(`\\| \`${n}\` \\| \\[[^\\]]+\\]\\(#${n}\\) \\|`), n);
  });

  test('every in-page link points at an anchor', () => {
    const links = [...runbook.matchAll(/\]\(#([a-z0-9-]+)\)/g)].map((m) => m[1] ?? '');
    assert.ok(links.length > 10);
    assert.deepEqual(links.filter((l) => !anchors.has(l)), []);
  });
});

describe('RUNBOOK.md: each situation says how to notice, confirm, fix, verify and roll back', () => {
  const situations = sections.filter((s) => s.ids.length > 0);

  test('the situations the operators asked for are all there', () => {
    for (const id of ['call-fails', 'high-cpu', 'turn', 'tls-expiry', 'disk', 'maintenance', 'deploy', 'ssh-lockout', 'rotate-secrets']) {
      assert.ok(situations.some((s) => s.ids.includes(id)), id);
    }
  });

  for (const s of sections.filter((x) => x.ids.length > 0)) {
    test(`${s.title}: ${SUBSECTIONS.join(', ')} in that order, none empty`, () => {
      let at = 0;
      for (const sub of SUBSECTIONS) {
        const i = s.text.indexOf(`\n#### ${sub}\n`, at);
        assert.ok(i > at || (at === 0 && i > 0), `missing "#### ${sub}" (after the previous one)`);
        const body = s.text.slice(i + sub.length + 7).split(/\n#### /)[0] ?? '';
        assert.ok(body.trim().length > 20, `"${sub}" is empty`);
        at = i;
      }
    });
  }
});

describe('commands in RUNBOOK.md and README.md name scripts that exist', () => {
  for (const [name, text] of [['RUNBOOK.md', runbook], ['README.md', readme]] as const) {
    test(name, () => {
      const scripts = new Set([...text.matchAll(/scripts\/([a-z-]+)\.mjs/g)].map((m) => m[1] ?? ''));
      assert.ok(scripts.size >= 5);
      assert.deepEqual([...scripts].filter((s) => !existsSync(join(REPO, 'scripts', `${s}.mjs`))), []);
    });
  }
});
