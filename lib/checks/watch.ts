import { homedir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Alerter } from '../alerting/alerter.js';
import { DEFAULT_CAUSES, type CauseRule } from '../alerting/causes.js';
import { hostAlertProviders } from '../alerting/operator-alert.js';
import { AlertStore } from '../alerting/store.js';
import type { HostSecrets, ResolvedHost } from '../inventory/index.js';
import { REMOTE_CHECKS, runOperatorChecks, type OperatorOptions } from './operator.js';
import type { CheckResult } from './result.js';

/**
 * The outside checks on a schedule, from a machine that is not the host (the operator's, the backup machine), through
 * the same alert state machine and destinations as the host's daemon: what the host cannot see of itself (a firewall,
 * a security group, a wrong announced IP, the host gone) alerts from here. Its alerts name the host "(outside)".
 */
export interface WatchOptions extends OperatorOptions {
  only: readonly string[];
  intervalMs: number;
  /** Stop after this many rounds (default: until interrupted). */
  rounds?: number | undefined;
  /** Alert state, so a restarted watch neither forgets an open alert nor sends it again. */
  stateFile: string;
  signal: AbortSignal;
  onRound: (results: CheckResult[], round: number) => void;
}

/** From outside, a host where nothing answers is one cause: every outside check is held behind it. */
export const OUTSIDE_CAUSES: readonly CauseRule[] = [...DEFAULT_CAUSES, ...REMOTE_CHECKS.map((c) => ({ effect: `${c}/*`, causes: ['host/*'] }))];

/**
 * The round's verdict on the host as a whole: critical ("host silent") when every probe of at least two checks
 * failed; not judged when fewer checks ran (then the one check's own alert says it).
 */
export function hostReachability(host: ResolvedHost, results: readonly CheckResult[]): CheckResult {
  const probed = results.filter((r) => r.status !== 'skipped');
  const checks = new Set(probed.map((r) => r.check)).size;
  const failed = probed.filter((r) => r.status === 'critical').length;
  const at = new Date().toISOString();
  const row = (status: CheckResult['status'], message: string): CheckResult => ({ check: 'host', target: host.name, status, message, values: { probes: probed.length, failed }, durationMs: 0, at });
  if (checks < 2) return row('skipped', 'not judged: fewer than two outside checks ran');
  if (failed === probed.length) return row('critical', `${host.name} is silent from outside: all ${failed} probes failed (host down, its network cut, or a firewall dropping everything)`);
  return row('ok', `${host.name} answers from outside (${probed.length - failed}/${probed.length} probes ok)`);
}

export const watchStateFile = (host: ResolvedHost): string => join(homedir(), '.cache', 'rtcops', 'watch', `${host.name}-alerts.json`);

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

/** Runs the rounds; resolves with the last round's results (empty if interrupted before the first ended). */
export async function watchHost(host: ResolvedHost, secrets: HostSecrets, o: WatchOptions): Promise<CheckResult[]> {
  const d = host.daemon;
  const alerter = new Alerter({
    host: `${host.name} (outside)`, store: new AlertStore(o.stateFile), providers: hostAlertProviders(host, secrets),
    policy: { failureThreshold: d.failureThreshold, successThreshold: d.successThreshold, sendOnResolved: true, reminderIntervalMs: d.reminderIntervalMin * 60_000 },
    maintenance: d.maintenance, causes: OUTSIDE_CAUSES, runbookUrl: host.alerts.runbookUrl ?? 'RUNBOOK.md',
    backoff: { initialDelayMs: 2000, maxDelayMs: 300_000, minIntervalMs: 1000 },
    log: pino({ level: 'warn', base: { service: 'rtcops-watch', host: host.name } }, pino.destination(2)),
  });
  let last: CheckResult[] = [];
  try {
    for (let round = 1; o.rounds === undefined || round <= o.rounds; round++) {
      const started = Date.now();
      const probes = await runOperatorChecks(host, secrets, { ...o, ssh: false });
      if (o.signal.aborted) break;
      const verdict = hostReachability(host, probes);
      // The verdict first: the checks it explains are held behind it in this same round.
      await alerter.handle(verdict);
      await Promise.all(probes.map((r) => alerter.handle(r)));
      const results = verdict.status === 'skipped' ? probes : [verdict, ...probes];
      last = results;
      o.onRound(results, round);
      if (o.rounds !== undefined && round >= o.rounds) break;
      await sleep(Math.max(0, o.intervalMs - (Date.now() - started)), o.signal);
      if (o.signal.aborted) break;
    }
  } finally {
    alerter.stop();
  }
  return last;
}
