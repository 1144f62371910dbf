import { DEPLOY_LOG, layoutOf } from '../host/index.js';
import { Stop } from '../report/phases.js';
import { sh } from '../runner/quote.js';
import { logSizesScript, logsSinceScript, markFailedScript } from './commands.js';
import { gate } from './gate.js';
import type { HostState } from './host-state.js';
import { Interrupted } from './interrupt.js';
import { stopProcs } from './retire.js';
import type { Run } from './run.js';
import { switchTo } from './switch.js';

/** The server logs' sizes before the new release starts: what it logs is read from there if it fails. */
export async function logOffsets(run: Run): Promise<number[]> {
  const r = await run.main.script(logSizesScript(run.host), { root: true, allowFailure: true, summary: 'measure the server logs' });
  return r.stdout.trim().split('\n').map(Number).map((n) => (Number.isFinite(n) ? n : 0));
}

/** A crash loop prints the same line over and over: keep one, with a count. */
export function collapseRepeats(lines: string[]): string[] {
  const out: { line: string; n: number }[] = [];
  for (const line of lines) {
    const last = out.at(-1);
    if (last?.line === line) last.n++;
    else out.push({ line, n: 1 });
  }
  return out.map((x) => (x.n > 1 ? `${x.line} (×${x.n})` : x.line));
}

/** What the failed release logged (its own lines, cut at the offsets taken before it started), and its mark. */
async function keepFailure(run: Run, failed: string, offsets: number[], cause: Error): Promise<void> {
  const { host, report } = run;
  report.error = cause.message;
  // An interrupted release did not fail: it stays a rollback target, and its logs are not a failure's.
  if (cause instanceof Interrupted) return;
  if (cause instanceof Stop && cause.check !== undefined) report.check = cause.check;
  const logs = await run.main.script(logsSinceScript(host, offsets), { root: true, allowFailure: true, summary: 'read what the release logged' });
  report.logs = collapseRepeats(logs.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l)));
  await run.main.script(markFailedScript(host, failed, cause.message), { root: true, allowFailure: true, summary: 'mark the release failed' });
}

/** The new release failed its gate in the idle slot: no caller ever reached it. Stop it; nginx and `current` never changed. */
export async function refuseNew(run: Run, failed: string, state: HostState, offsets: number[], cause: Error): Promise<void> {
  await keepFailure(run, failed, offsets, cause);
  await stopProcs(run, [state.idle.pm2Name], 'stop new', '').catch(() => undefined);
  if (state.serving === undefined || state.current === undefined) {
    throw new Stop('failed', `${cause.message}; nothing served before it, so the app is stopped`);
  }
  throw new Stop('rolled-back', `${cause.message}; nginx was never switched to it: ${state.current} kept serving (slot ${state.live.name})`,
    failureHint(run, cause), run.report.check);
}

/** The new release failed after the switch: nginx back to the old slot, which still runs (no restart), checked; then the new one stops. */
export async function restore(run: Run, failed: string, state: HostState, offsets: number[], cause: Error): Promise<void> {
  const { host, report } = run;
  await keepFailure(run, failed, offsets, cause);
  if (state.serving === undefined || state.current === undefined) {
    await stopProcs(run, [state.idle.pm2Name], 'stop new', '').catch(() => undefined);
    await run.main.script(sh`rm -f ${layoutOf(host).current}`, { root: true, allowFailure: true }).catch(() => undefined);
    report.serving = undefined;
    throw new Stop('failed', `${cause.message}; there was no previous release, so the app is stopped`);
  }
  try {
    await switchTo(run, state.current, state.live, state.previous, 'switch back');
    report.serving = state.current;
    // No call here: that release served callers until moments ago and still runs; a switch back must be quick.
    await gate(run, state.current, state.live, 'verify previous', { pm2Name: state.serving.name });
  } catch (err) {
    throw new Stop('failed', `${cause.message}; restoring ${state.current} also failed: ${(err as Error).message}`, `look at the host now: npx zx scripts/releases.mjs ${host.name}`);
  } finally {
    await stopProcs(run, [state.idle.pm2Name], 'stop new', '').catch(() => undefined);
  }
  throw new Stop('rolled-back', `${cause.message}; ${state.current} (slot ${state.live.name}, still running) serves again and passed the health gate`, failureHint(run, cause), report.check);
}

function failureHint(run: Run, cause: Error): string {
  return cause instanceof Interrupted
    ? `nothing failed: deploy it again when it can run to the end (scripts/releases.mjs ${run.host.name} shows the host)`
    : `the failed release's output is in the audit log (${DEPLOY_LOG}) and scripts/releases.mjs ${run.host.name}`;
}
