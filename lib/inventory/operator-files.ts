import { accessSync, constants, statSync } from 'node:fs';
import { InventoryError, type InventoryIssue } from './errors.js';
import type { ResolvedHost } from './resolve.js';
import { resolveSecrets, type HostSecrets } from './secrets.js';

type Env = Record<string, string | undefined>;

/**
 * What a command does with the host: 'connect' reaches it over SSH and probes it (deploy, backup, check: their
 * probes trust acme.issuerRoots), 'provision' also installs the files the settings name
 * (provision, restore). A deploy must not fail on a caBundle that only certbot on the host ever reads.
 */
export type HostPurpose = 'connect' | 'provision';

/** Files on the operator's machine that a host's settings name and the purpose reads (secrets.file is resolveSecrets' own). */
export function operatorFiles(host: ResolvedHost, purpose: HostPurpose = 'provision'): { key: string; path: string }[] {
  const named: [string, string | undefined][] = [
    ['ssh.keyPath', host.ssh.keyPath],
    ['ssh.knownHostsFile', host.ssh.knownHostsFile],
    // The roots the probes of deploy, check and backup trust; the daemon's config names them too.
    ['acme.issuerRoots', host.acme.issuerRoots],
    ...(purpose === 'provision' ? ([
      ['acme.caBundle', host.acme.caBundle],
      ['alerts.caFile', host.alerts.caFile],
    ] as [string, string | undefined][]) : []),
  ];
  return named.filter((n): n is [string, string] => n[1] !== undefined).map(([key, path]) => ({ key, path }));
}

/** Each named file that is missing, not a file, or not readable, as an issue naming the key and the path. */
export function operatorFileIssues(host: ResolvedHost, purpose: HostPurpose = 'provision'): InventoryIssue[] {
  const issues: InventoryIssue[] = [];
  for (const { key, path } of operatorFiles(host, purpose)) {
    const problem = (() => {
      try {
        if (!statSync(path).isFile()) return 'is not a file';
        accessSync(path, constants.R_OK);
        return undefined;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        return code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? 'error'})`;
      }
    })();
    if (problem !== undefined) issues.push({ path: `hosts.${host.name}.${key}`, message: `${path} ${problem}: create it, or point ${key} at the right file` });
  }
  return issues;
}

/**
 * What a command needs from the operator's machine before it connects to a host: every file its settings name
 * and every secret. One InventoryError lists all the problems (exit 2), before anything touches the host.
 */
export function resolveHostInputs(host: ResolvedHost, inventoryFile: string, purpose: HostPurpose, env: Env = process.env): HostSecrets {
  const files = operatorFileIssues(host, purpose);
  let secrets: HostSecrets;
  try {
    secrets = resolveSecrets(host, inventoryFile, env);
  } catch (error) {
    if (error instanceof InventoryError) throw new InventoryError(inventoryFile, [...files, ...error.issues]);
    throw error;
  }
  if (files.length > 0) throw new InventoryError(inventoryFile, files);
  return secrets;
}
