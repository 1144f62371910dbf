import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';

/**
 * One OpenSSL context per check, reused by every connection it makes: a context per connection (what a `ca`
 * option does) costs native memory that lives until V8 collects it, and glibc keeps the peak (+90 MB RSS
 * over 1,000 cycles in bench/daemon.ts).
 */
export function trustContext(caFile: string | undefined): SecureContext {
  return createSecureContext(caFile === undefined ? {} : { ca: readFileSync(caFile) });
}
