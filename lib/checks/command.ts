import { resolve } from 'node:path';
import { EXIT, UsageError, parseCli, type Io } from '../cli.js';
import { InventoryError, loadHost, operatorFileIssues, probeReach, readProbeCa } from '../inventory/index.js';
import type { CheckResult } from './result.js';
import { ALL_CHECKS, HOST_CHECKS, runOperatorChecks } from './operator.js';
import { formatTable, hasCritical } from './report.js';

const spec = {
  usage: 'check.mjs <host> [--only <check,...>] [--probe-direct] [--no-ssh]',
  description: 'Run the health daemon\'s checks once for <host>, from this machine, and print the results. '
    + 'TLS (443 and coturn\'s TLS port), TURN (UDP, TCP, TLS), the server through nginx and a real WebRTC call are probed from here, as callers reach the host; '
    + `${HOST_CHECKS.join(', ')} run on the host over SSH with the daemon and config installed there. `
    + 'Exit status: 0 nothing critical (warnings are printed and exit 0), 1 a check is critical, 2 usage, inventory or secret error.',
  options: {
    only: { type: 'string' },
    'probe-direct': { type: 'boolean', default: false },
    'no-ssh': { type: 'boolean', default: false },
    'ca-file': { type: 'string' },
    'https-port': { type: 'string', default: '443' },
  },
  help: {
    only: `Run only these checks, comma-separated (${ALL_CHECKS.join(', ')})`,
    'probe-direct': 'Connect to the host\'s ssh.address instead of resolving its names (TLS names stay the domains): before DNS points at the host. Automatic when no name can resolve (the sandbox\'s .test names)',
    'no-ssh': 'Do not SSH to the host: its own checks are listed as skipped',
    'ca-file': 'Trust this CA (a test ACME server\'s roots). Default: the inventory\'s acme.issuerRoots, if set',
    'https-port': 'nginx\'s HTTPS port (default 443)',
  },
} as const;

export function summaryLine(host: string, results: CheckResult[], ms: number): string {
  const count = (s: CheckResult['status']) => results.filter((r) => r.status === s).length;
  return `${host}: ${count('ok')} ok, ${count('warn')} warn, ${count('critical')} critical, ${count('skipped')} skipped in ${(ms / 1000).toFixed(1)} s`;
}

export async function checkMain(argv: string[], io: Io): Promise<number> {
  const args = parseCli(spec, argv, io);
  if (args === undefined) return EXIT.ok;
  const [hostName, ...extra] = args.positionals;
  if (hostName === undefined) throw new UsageError('check: name the host to check (e.g. sandbox)');
  if (extra.length > 0) throw new UsageError(`check: unexpected arguments: ${extra.join(' ')}`);
  const only = typeof args.values.only === 'string' ? args.values.only.split(',').map((s) => s.trim()).filter((s) => s !== '') : [...ALL_CHECKS];
  const unknown = only.filter((n) => !ALL_CHECKS.includes(n));
  if (unknown.length > 0) throw new UsageError(`--only: unknown check ${unknown.join(', ')}; checks are: ${ALL_CHECKS.join(', ')}`);
  const httpsPort = Number(args.values['https-port']);
  if (!Number.isInteger(httpsPort) || httpsPort < 1 || httpsPort > 65535) throw new UsageError('--https-port takes a port number');

  const { inventory, host, secrets } = loadHost(args.inventory, hostName);
  // The checks over SSH need the key and the pins; --no-ssh runs from a machine that has neither.
  const missing = args.values['no-ssh'] === true ? [] : operatorFileIssues(host, 'connect');
  if (missing.length > 0) throw new InventoryError(inventory.file, missing);
  const t0 = performance.now();
  const flagCa = typeof args.values['ca-file'] === 'string' ? resolve(args.values['ca-file']) : undefined;
  const reach = probeReach(host, { probeDirect: args.values['probe-direct'] === true, caFile: flagCa });
  try {
    readProbeCa(host, reach.caFile, flagCa !== undefined);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (reach.note !== undefined && !args.json) io.err(reach.note);
  const results = await runOperatorChecks(host, secrets, { address: reach.address, httpsPort, caFile: reach.caFile, only, ssh: args.values['no-ssh'] !== true });
  const ms = performance.now() - t0;
  io.out(args.json ? JSON.stringify({ ok: !hasCritical(results), host: host.name, ms: Math.round(ms), results }, null, 2) : `${formatTable(results)}\n\n${summaryLine(host.name, results, ms)}`);
  return hasCritical(results) ? EXIT.failed : EXIT.ok;
}
