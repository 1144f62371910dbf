import { hostname, userInfo } from 'node:os';
import { sh } from '../runner/quote.js';
import { LOG_DIR } from './layout.js';

/** Who runs this: user@machine of the operator, in every audit line. */
export function operator(): string {
  return `${userInfo().username}@${hostname()}`;
}

/** Appends one JSON line (time and operator first) to an audit log on the host, LOG_DIR created when missing. */
export function auditScript(log: string, record: Record<string, unknown>): string {
  const line = JSON.stringify({ time: new Date().toISOString(), by: operator(), ...record });
  return sh`install -d -m 0750 ${LOG_DIR}\nprintf '%s\\n' ${line} >> ${log}`;
}

export function auditTailScript(log: string, lines: number): string {
  return sh`tail -n ${lines} ${log} 2>/dev/null || true`;
}
