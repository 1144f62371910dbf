import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { mintTurnCredentials } from '../../../lib/turn/credentials.js';

describe('TURN REST credentials (coturn use-auth-secret)', () => {
  it('username is "<expiry>:<user>" with expiry = now + ttl', () => {
    const c = mintTurnCredentials('s3cret', 'alice', 3600, 1_700_000_000_500);
    assert.equal(c.username, '1700003600:alice');
    assert.equal(c.expiresAt, 1_700_003_600);
  });

  it('password is base64(HMAC-SHA1(secret, username)), as openssl computes it', () => {
    const c = mintTurnCredentials('s3cret', 'alice', 3600, 1_700_000_000_000);
    const mac = execFileSync('openssl', ['dgst', '-sha1', '-hmac', 's3cret', '-binary'], { input: c.username });
    assert.equal(c.password, mac.toString('base64'));
  });
});
