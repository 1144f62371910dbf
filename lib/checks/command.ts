import { resolve } from 'node:path';
import { EXIT, UsageError, oneHost, parseCli, type Io } from '../cli.js';
import { InventoryError, loadHost, operatorFileIssues, probeReach, readProbeCa } from '../inventory/index.js';
import type { CheckResult } from './result.js';
import { ALL_CHECKS, HOST_CHECKS, REMOTE_CHECKS, runOperatorChecks } from './operator.js';
import { watchHost, watchStateFile } from './watch.js';
import { formatTable, hasCritical } from './report.js';

const spec = {
  usage: 'check.mjs <host> [--only <check,...>] [--probe-direct] [--no-ssh] [--watch [--interval <sec>] [--rounds <n>]]',
  description: 'Run the health daemon\'s checks once for <host>, from this machine, and print the results. '
    + 'TLS (443 and coturn\'s TLS port), TURN (UDP, TCP, TLS), the server through nginx and a real WebRTC call are probed from here, as callers reach the host; '
    + `${HOST_CHECKS.join(', ')} run on the host over SSH with the daemon and config installed there. `
    + 'With --watch, the outside checks run every --interval through the alert state machine and alert where the host\'s daemon does (alerts name the host "(outside)"): '
    + 'what the host cannot see of itself (a firewall, a security group, a wrong announced IP, the host gone). '
    + 'Exit status: 0 nothing critical (warnings are printed and exit 0), 1 a check is critical, 2 usage, inventory or secret error, 130 interrupted.',
  options: {
    only: { type: 'string' },
    'probe-direct': { type: 'boolean', default: false },
    'no-ssh': { type: 'boolean', default: false },
    'ca-file': { type: 'string' },
    'https-port': { type: 'string', default: '443' },
    watch: { type: 'boolean', default: false },
    interval: { type: 'string' },
    rounds: { type: 'string' },
  },
  help: {
    only: `Run only these checks, comma-separated (${ALL_CHECKS.join(', ')})`,
    'probe-direct': 'Connect to the host\'s ssh.address instead of resolving its names (TLS names stay the domains): before DNS points at the host. Automatic when no name can resolve (the sandbox\'s .test names)',
    'no-ssh': 'Do not SSH to the host: its own checks are listed as skipped',
    'ca-file': 'Trust this CA (a test ACME server\'s roots). Default: the inventory\'s acme.issuerRoots, if set',
    'https-port': 'nginx\'s HTTPS port (default 443)',
    watch: `Keep watching from here: the outside checks (${REMOTE_CHECKS.join(', ')}) every --interval, alerting through the state machine; state in ~/.cache/rtcops/watch/`,
    interval: 'With --watch: seconds between rounds (default: the host\'s daemon.intervalSec)',
    rounds: 'With --watch: stop after this many rounds (default: until interrupted)',
  },
} as const;

export function summaryLine(host: string, results: CheckResult[], ms: number): string {
  const count = (s: CheckResult['status']) => results.filter((r) => r.status === s).length;
  return `${host}: ${count('ok')} ok, ${count('warn')} warn, ${count('critical')} critical, ${count('skipped')} skipped in ${(ms / 1000).toFixed(1)} s`;
}

export async function checkMain(argv: string[], io: Io): Promise<number> {
  const args = parseCli(spec, argv, io);
  if (args === undefined) return EXIT.ok;
  const hostName = oneHost(args, 'check', 'name the host to check (e.g. sandbox)');
  const watch = args.values.watch === true;
  if (!watch && (args.values.interval !== undefined || args.values.rounds !== undefined)) throw new UsageError('--interval and --rounds go with --watch');
  const only = typeof args.values.only === 'string' ? args.values.only.split(',').map((s) => s.trim()).filter((s) => s !== '') : [...(watch ? REMOTE_CHECKS : ALL_CHECKS)];
  const onHostOnly = only.filter((n) => (HOST_CHECKS as readonly string[]).includes(n));
  if (watch && onHostOnly.length > 0) throw new UsageError(`--watch runs the outside checks only (${REMOTE_CHECKS.join(', ')}); ${onHostOnly.join(', ')} are the host daemon's`);
  const positive = (name: string, v: unknown) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} takes a whole number of at least 1`);
    return n;
  };
  const intervalSec = positive('interval', args.values.interval);
  const rounds = positive('rounds', args.values.rounds);
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
  if (watch) return watchMain(host, secrets, { address: reach.address, httpsPort, caFile: reach.caFile, only, intervalMs: (intervalSec ?? host.daemon.intervalSec) * 1000, rounds }, args.json, io);
  const results = await runOperatorChecks(host, secrets, { address: reach.address, httpsPort, caFile: reach.caFile, only, ssh: args.values['no-ssh'] !== true });
  const ms = performance.now() - t0;
  io.out(args.json ? JSON.stringify({ ok: !hasCritical(results), host: host.name, ms: Math.round(ms), results }, null, 2) : `${formatTable(results)}\n\n${summaryLine(host.name, results, ms)}`);
  return hasCritical(results) ? EXIT.failed : EXIT.ok;
}

/** --watch: rounds until --rounds or SIGINT/SIGTERM; one line (or JSON document) per round. */
async function watchMain(host: Parameters<typeof watchHost>[0], secrets: Parameters<typeof watchHost>[1], o: Omit<Parameters<typeof watchHost>[2], 'stateFile' | 'signal' | 'onRound'>, json: boolean, io: Io): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const stateFile = watchStateFile(host);
  if (!json) io.err(`watching ${host.name} from outside every ${o.intervalMs / 1000} s (${o.only.join(', ')}); alert state in ${stateFile}`);
  let t0 = performance.now();
  try {
    const last = await watchHost(host, secrets, {
      ...o, stateFile, signal: stop.signal,
      onRound: (results, round) => {
        const line = summaryLine(host.name, results, performance.now() - t0);
        io.out(json ? JSON.stringify({ round, at: new Date().toISOString(), ok: !hasCritical(results), host: host.name, results }) : `${new Date().toISOString()} round ${round}: ${line}${hasCritical(results) ? `: ${results.filter((r) => r.status === 'critical').map((r) => `${r.check} ${r.target}`).join(', ')}` : ''}`);
        t0 = performance.now();
      },
    });
    if (stop.signal.aborted) return 130;
    return hasCritical(last) ? EXIT.failed : EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
