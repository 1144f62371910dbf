import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRequestTarget } from '../../../server/raw-path.js';

describe('request targets: routed on the exact raw path, ambiguous ones refused', () => {
  const accepted: [string, string][] = [
    ['/metrics', '/metrics'],
    ['/signaling?room=r1&token=a.b-c_d', '/signaling'],
    ['/healthz?room=a%20b', '/healthz'],
    ['/connection-test/app.js', '/connection-test/app.js'],
    ['/metrics/', '/metrics/'],
    ['/METRICS', '/METRICS'],
    ['/metrics;x', '/metrics;x'],
    ['/a..b/.c', '/a..b/.c'],
    ['/signaling?x=1\\', '/signaling'],
  ];
  for (const [target, path] of accepted) {
    it(`${target} routes on ${path}`, () => {
      const r = parseRequestTarget(target);
      assert.deepEqual(r.ok && { path: r.path, href: r.url.href }, { path, href: new URL(target, 'http://localhost').href });
    });
  }

  const refused: [string | undefined, RegExp][] = [
    ['/signaling\\..\\metrics', /backslash/],
    ['/%6detrics', /percent-encoded/],
    ['/signaling%2f..%2fmetrics', /percent-encoded/],
    ['/metrics%00', /percent-encoded/],
    ['//metrics', /doubled slash/],
    ['/metrics//', /doubled slash/],
    ['/signaling/../metrics', /dot segment/],
    ['/./metrics', /dot segment/],
    ['/metrics/.', /dot segment/],
    ['/metrics/..', /dot segment/],
    ['/metrics/..?x', /dot segment/],
    ['/metrics\x00', /control, space or non-ASCII/],
    ['/metrics\x7f', /control, space or non-ASCII/],
    ['/metrics ', /control, space or non-ASCII/],
    ['/\u00e9', /control, space or non-ASCII/],
    ['/healthz?room=\u00e9', /control, space or non-ASCII/],
    ['/metrics#x', /fragment/],
    ['http://localhost/metrics', /must be a path/],
    ['*', /must be a path/],
    ['', /must be a path/],
    [undefined, /must be a path/],
  ];
  for (const [target, why] of refused) {
    it(`${JSON.stringify(target)} is refused`, () => {
      const r = parseRequestTarget(target);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, why);
    });
  }
});
