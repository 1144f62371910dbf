import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CommandFailedError, RecordingRunner, raw, sh } from '../../../lib/runner/index.js';

describe('sh: every interpolation quoted once', () => {
  const unit = 'rtcops-health.service';
  const cases: [what: string, got: string, want: string][] = [
    ['a plain word stays as it is', sh`systemctl restart ${unit}`, 'systemctl restart rtcops-health.service'],
    ['a value with spaces is one word', sh`rm -f ${'/srv/my app/current'}`, "rm -f '/srv/my app/current'"],
    ['a command substitution is text, not code', sh`echo ${'$(reboot)'}`, "echo '$(reboot)'"],
    ['a quote inside is escaped', sh`printf %s ${"it's"}`, "printf %s 'it'\\''s'"],
    ['an array is one word each', sh`systemctl stop ${['a.timer', 'b c.service']}`, "systemctl stop a.timer 'b c.service'"],
    ['a number goes in as digits', sh`tail -n ${20} f`, 'tail -n 20 f'],
    ['the empty string is an empty word', sh`test -n ${''}`, "test -n ''"],
    ['raw() goes in as it is: a fragment built before', sh`${raw('set -e')}; echo ${'a b'}`, "set -e; echo 'a b'"],
  ];
  for (const [what, got, want] of cases) test(what, () => assert.equal(got, want));
});

describe('RecordingRunner: answers from a table, keeps the calls', () => {
  test('the first matching row answers; none: exit 0, no output; the calls are recorded in order', async () => {
    const r = new RecordingRunner('h', [['cat /x', { stdout: 'hello' }], [/^uname/, { stdout: 'x86_64\n' }]]);
    assert.equal((await r.exec(['cat', '/x'], { root: true })).stdout, 'hello');
    assert.equal((await r.exec(['uname', '-m'])).stdout, 'x86_64\n');
    assert.equal((await r.script('true', { summary: 'nothing' })).stdout, '');
    await r.upload('abc', '/tmp/f');
    assert.deepEqual(r.calls.map((c) => [c.kind, c.text, c.root]), [['exec', 'cat /x', true], ['exec', 'uname -m', false], ['script', 'true', false], ['upload', '/tmp/f', false]]);
  });

  test('a non-zero answer throws as SshTarget does, unless allowFailure', async () => {
    const r = new RecordingRunner('h', [['false', { code: 3, stderr: 'no' }]]);
    await assert.rejects(r.script('false', { summary: 'fail' }), (e: Error) => e instanceof CommandFailedError && /fail/.test(e.message));
    assert.equal((await r.script('false', { allowFailure: true })).code, 3);
  });

  test('connections opened with connect() share the table and the log', async () => {
    const r = new RecordingRunner('h', [['id', { stdout: 'root' }]]);
    const second = await r.connect();
    assert.equal((await second.exec(['id'])).stdout, 'root');
    assert.deepEqual(r.calls.map((c) => c.text), ['id']);
  });
});
