import type { AlertState } from './state-machine.js';

/**
 * Which check targets explain another's failure: while a cause is failing, its effects send nothing and the cause's
 * alert names them ("also affected"). Patterns are `check/target`, the target may end in `*`.
 */
export interface CauseRule {
  effect: string;
  causes: string[];
}

/** The server's parts, as a caller depends on them: nginx and the app carry signaling, coturn carries the relays. */
export const DEFAULT_CAUSES: readonly CauseRule[] = [
  { effect: 'turn/*', causes: ['services/coturn.service'] },
  { effect: 'media-probe/relay:*', causes: ['services/coturn.service', 'turn/*'] },
  { effect: 'media-probe/*', causes: ['server/*', 'services/nginx.service'] },
  { effect: 'pm2/*', causes: ['server/*'] },
  { effect: 'server/*', causes: ['services/nginx.service'] },
];

/** `check/target` of one result or stored alert. */
export const alertId = (check: string, target: string): string => `${check}/${target}`;

function matches(pattern: string, id: string): boolean {
  return pattern.endsWith('*') ? id.startsWith(pattern.slice(0, -1)) : id === pattern;
}

/** A cause counts while it is failing (before its threshold too: effects often fail first), held itself, or its alert is open. */
const failing = (s: AlertState): boolean => s.triggered || s.failures > 0 || s.heldBy !== undefined;

/**
 * The failing cause at the top of `id`'s chain, if any: what its alert should be held behind. `states` is one
 * destination's alerts by `check/target`.
 */
export function rootCause(rules: readonly CauseRule[], id: string, states: ReadonlyMap<string, AlertState>): string | undefined {
  let root: string | undefined;
  const seen = new Set([id]);
  for (let current = id; ;) {
    const patterns = rules.filter((r) => matches(r.effect, current)).flatMap((r) => r.causes);
    const cause = [...states].find(([other, s]) => !seen.has(other) && failing(s) && patterns.some((p) => matches(p, other)))?.[0];
    if (cause === undefined) return root;
    root = cause;
    seen.add(cause);
    current = cause;
  }
}

/** The alerts held behind `cause`, for its message. */
export function heldBehind(cause: string, states: ReadonlyMap<string, AlertState>): string[] {
  return [...states].filter(([, s]) => s.heldBy === cause).map(([id]) => id).sort();
}
