import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fingerprintOf, knownHostsBlobs, shJoin, shQuote } from '../../../lib/runner/index.js';

describe('shell quoting (once, in one place)', () => {
  const cases: [string, string][] = [
    ['plain', 'plain'],
    ['/etc/nginx/sites-available/rtc.conf', '/etc/nginx/sites-available/rtc.conf'],
    ['', "''"],
    ['two words', "'two words'"],
    ["it's", "'it'\\''s'"],
    ['$(reboot)', "'$(reboot)'"],
    ['a;b|c&d', "'a;b|c&d'"],
    ['line\nbreak', "'line\nbreak'"],
  ];
  for (const [input, want] of cases) it(JSON.stringify(input), () => assert.equal(shQuote(input), want));
  it('joins argv', () => assert.equal(shJoin(['printf', '%s\\n', 'a b']), "printf '%s\\n' 'a b'"));
});

describe('host key pins', () => {
  const blob = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIJ4g3Wbm1tVMxlU3jW2UpqQuoq6qbqEh1kqTQJ3w3S6Y', 'base64');
  it('fingerprints like ssh-keygen -lf (SHA256, unpadded base64)', () => {
    assert.match(fingerprintOf(blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });
  const kh = [
    `10.77.0.2 ssh-ed25519 ${blob.toString('base64')}`,
    `[10.77.0.2]:2222 ssh-ed25519 ${Buffer.from('other').toString('base64')}`,
    `# 10.77.0.9 ssh-ed25519 ${blob.toString('base64')}`,
  ].join('\n');
  it('port 22 entries are bare addresses', () => assert.deepEqual(knownHostsBlobs(kh, '10.77.0.2', 22), [blob]));
  it('other ports use [address]:port', () => assert.deepEqual(knownHostsBlobs(kh, '10.77.0.2', 2222), [Buffer.from('other')]));
  it('comments and other hosts pin nothing', () => assert.deepEqual(knownHostsBlobs(kh, '10.77.0.9', 22), []));
});
