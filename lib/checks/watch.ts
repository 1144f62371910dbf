import { homedir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Alerter } from '../alerting/alerter.js';
import { DEFAULT_CAUSES } from '../alerting/causes.js';
import { hostAlertProviders } from '../alerting/operator-alert.js';
import { AlertStore } from '../alerting/store.js';
import type { HostSecrets, ResolvedHost } from '../inventory/index.js';
import { runOperatorChecks, type OperatorOptions } from './operator.js';
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
    maintenance: d.maintenance, causes: DEFAULT_CAUSES, runbookUrl: host.alerts.runbookUrl ?? 'RUNBOOK.md',
    backoff: { initialDelayMs: 2000, maxDelayMs: 300_000, minIntervalMs: 1000 },
    log: pino({ level: 'warn', base: { service: 'rtcops-watch', host: host.name } }, pino.destination(2)),
  });
  let last: CheckResult[] = [];
  try {
    for (let round = 1; o.rounds === undefined || round <= o.rounds; round++) {
      const started = Date.now();
      const results = await runOperatorChecks(host, secrets, { ...o, ssh: false });
      if (o.signal.aborted) break;
      await Promise.all(results.map((r) => alerter.handle(r)));
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
