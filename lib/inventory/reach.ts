import { readFileSync } from 'node:fs';
import type { ResolvedHost } from './resolve.js';

/** Top-level names that public DNS never resolves (RFC 2606, RFC 6761): sandbox.test, example, ... */
const RESERVED_TLD = /\.(test|example|invalid|localhost)$/i;

/** True when public DNS can resolve the name (it is not under a reserved top-level domain). */
export const hasPublicDns = (name: string): boolean => !RESERVED_TLD.test(name);

export interface ProbeReach {
  /** Connect here instead of resolving the host's names (TLS names and Host stay the domains). */
  address: string | undefined;
  /** Why `address` is used, when the operator did not ask for it; for a note on stderr. */
  note: string | undefined;
  /** Extra CA file the operator's probes trust (a test ACME server's certificate roots). */
  caFile: string | undefined;
}

/**
 * How the operator's machine reaches a host's public names for check.mjs and the deploy gate: the names through
 * DNS, or the host's ssh.address when asked (--probe-direct) or when no name can resolve (the sandbox's .test
 * names); trusting --ca-file, else the inventory's acme.issuerRoots (a test ACME server's roots).
 */
export function probeReach(host: ResolvedHost, flags: { probeDirect?: boolean; caFile?: string | undefined }): ProbeReach {
  const names = [...host.app.domains, host.turn.domain];
  const unresolvable = names.every((n) => !hasPublicDns(n));
  const direct = flags.probeDirect === true || unresolvable;
  return {
    address: direct ? host.ssh.address : undefined,
    note: flags.probeDirect !== true && unresolvable ? `${names.join(', ')} are not in public DNS: probing ${host.ssh.address} (ssh.address) directly, as --probe-direct` : undefined,
    caFile: flags.caFile ?? host.acme.issuerRoots,
  };
}

/** Reads the CA file probeReach chose; a missing file is an error that says where it comes from. */
export function readProbeCa(host: ResolvedHost, caFile: string | undefined, fromFlag: boolean): Buffer | undefined {
  if (caFile === undefined) return undefined;
  try {
    return readFileSync(caFile);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(fromFlag
      ? `--ca-file ${caFile}: cannot read it (${code})`
      : `acme.issuerRoots of ${host.name} (${caFile}) cannot be read (${code}): ${caFile.includes('sandbox') ? 'start the sandbox and its ACME server: npx zx scripts/sandbox.mjs up' : 'point it at your test ACME server\'s roots, or remove it'}`);
  }
}
