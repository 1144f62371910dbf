import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cachedDeployWindows, readDeployMarker } from '../../../lib/alerting/deploy-marker.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-marker-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};
const good = { release: 'r7', by: 'ops@laptop', from: '2026-12-03T10:00:00.000Z', until: '2026-12-03T10:05:00.000Z' };

describe('the deploy marker a deploy leaves for the daemon', () => {
  const cases: [string, string | undefined, ReturnType<typeof readDeployMarker>][] = [
    ['no marker configured', undefined, undefined],
    ['no file (never deployed)', join(dir, 'absent.json'), undefined],
    ['not JSON (a write cut short)', file('cut.json', '{"release":"r7","fr'), undefined],
    ['a time that is not a time', file('bad.json', JSON.stringify({ ...good, until: 'soon' })), undefined],
    ['a marker', file('good.json', JSON.stringify(good)), good],
  ];
  for (const [name, path, expected] of cases) it(name, () => assert.deepEqual(readDeployMarker(path), expected));

  it('is a maintenance window, read again at most once a second', () => {
    let now = 0;
    const path = join(dir, 'moving.json');
    const windows = cachedDeployWindows(path, () => now);
    assert.deepEqual(windows(), []);
    writeFileSync(path, JSON.stringify(good));
    now = 500;
    assert.deepEqual(windows(), [], 'cached');
    now = 1000;
    assert.deepEqual(windows(), [{ from: good.from, until: good.until }]);
  });
});
