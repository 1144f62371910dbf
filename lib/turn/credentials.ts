import { createHmac } from 'node:crypto';

export interface TurnCredentials {
  username: string;
  password: string;
  /** Unix seconds after which coturn rejects the credentials. */
  expiresAt: number;
}

/**
 * Time-limited TURN REST credentials as coturn's use-auth-secret expects them:
 * username "<expiry>:<user>", password base64(HMAC-SHA1(secret, username)).
 */
export function mintTurnCredentials(secret: string, user: string, ttlSec: number, nowMs = Date.now()): TurnCredentials {
  const expiresAt = Math.floor(nowMs / 1000) + ttlSec;
  const username = `${expiresAt}:${user}`;
  const password = createHmac('sha1', secret).update(username).digest('base64');
  return { username, password, expiresAt };
}
