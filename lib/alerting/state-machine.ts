import { isFailing, type CheckResult } from '../checks/result.js';

/**
 * One alert per check target, Gatus-style: a failure threshold opens it, a success threshold closes it,
 * reminders repeat it, and `triggered` changes only once a send succeeded (markSent).
 */
export interface AlertPolicy {
  failureThreshold: number;
  successThreshold: number;
  sendOnResolved: boolean;
  /** 0: no reminders. */
  reminderIntervalMs: number;
}

export interface AlertState {
  failures: number;
  successes: number;
  triggered: boolean;
  /** Severity last sent (while triggered). */
  severity?: 'warn' | 'critical';
  /** ISO time of the first failure of the current incident. */
  since?: string;
  /** ISO time of the last successful send. */
  lastSentAt?: string;
  /** The failing cause (`check/target`, lib/alerting/causes.ts) this alert is held behind. */
  heldBy?: string;
}

export type AlertKind = 'triggered' | 'escalated' | 'reminder' | 'resolved';

export interface AlertEvent {
  kind: AlertKind;
  host: string;
  check: string;
  target: string;
  severity: 'warn' | 'critical' | 'ok';
  message: string;
  values: CheckResult['values'];
  since: string;
  at: string;
  /** RUNBOOK.md#<check> link (or the bare anchor when no base URL is configured). */
  runbook: string;
  /** Alerts held behind this one (`check/target`): their failure is this one's. */
  affected?: string[];
}

/** The RUNBOOK.md section an alert about `check` links to: every check has one (test/unit/docs/runbook.test.ts). */
export const runbookLink = (runbookUrl: string, check: string): string => `${runbookUrl}#${check}`;

export const INITIAL: AlertState = { failures: 0, successes: 0, triggered: false };

/**
 * What to send for this result, if anything; `state` is the new counters (not yet "sent"). A failure `heldBy` a
 * failing cause sends nothing and does not count, so the effect needs its own threshold once the cause is back.
 */
export function evaluate(stored: AlertState, result: CheckResult, policy: AlertPolicy, silenced: boolean, heldBy?: string): { state: AlertState; send?: AlertKind } {
  if (result.status === 'skipped') return { state: stored };
  const { heldBy: _wasHeld, ...prev } = stored;
  if (isFailing(result.status) && heldBy !== undefined) {
    const { since: _notYet, ...notOpen } = prev;
    return { state: { ...(prev.triggered ? prev : notOpen), failures: 0, successes: 0, heldBy } };
  }
  if (isFailing(result.status)) {
    const state: AlertState = { ...prev, failures: prev.failures + 1, successes: 0, since: prev.since ?? result.at };
    if (silenced) return { state };
    if (!state.triggered) return state.failures >= policy.failureThreshold ? { state, send: 'triggered' } : { state };
    if (result.status === 'critical' && state.severity === 'warn') return { state, send: 'escalated' };
    const lastSent = Date.parse(state.lastSentAt ?? result.at);
    if (policy.reminderIntervalMs > 0 && Date.parse(result.at) - lastSent >= policy.reminderIntervalMs) return { state, send: 'reminder' };
    return { state };
  }
  const state: AlertState = { ...prev, failures: 0, successes: prev.successes + 1 };
  if (!state.triggered) {
    const { since: _incidentOver, ...rest } = state;
    return { state: rest };
  }
  if (state.successes < policy.successThreshold) return { state };
  if (!policy.sendOnResolved) return { state: { failures: 0, successes: state.successes, triggered: false } };
  return { state, send: 'resolved' };
}

/** The state after `kind` was delivered. */
export function markSent(state: AlertState, kind: AlertKind, status: CheckResult['status'], at: string): AlertState {
  if (kind === 'resolved') return { failures: 0, successes: state.successes, triggered: false, lastSentAt: at };
  return { ...state, triggered: true, severity: status === 'critical' ? 'critical' : 'warn', lastSentAt: at };
}
