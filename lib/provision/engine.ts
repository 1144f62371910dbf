import { readFileSync } from 'node:fs';
import { auditScript, layoutOf, PROVISION_LOG, sshTo } from '../host/index.js';
import type { HostSecrets, ResolvedHost } from '../inventory/index.js';
import { renderHost } from '../render/files.js';
import { recordError, type Progress } from '../report/phases.js';
import { RemoteError } from '../runner/errors.js';
import type { Connect, Runner } from '../runner/runner.js';
import { raw, sh } from '../runner/quote.js';
import { UNCHANGED, type Action } from './actions.js';
import { HANDLERS, fileInstallScript, linkScript, restoreScript } from './apply.js';
import { factsScript, mergeRequests, parseFacts, type Facts } from './facts.js';
import { assertAdminAccess, revertUnitName, withAccessGuard } from './lockout-guard.js';
import type { Step, StepContext } from './step.js';
import { appUserStep } from './steps/app-user.js';
import { configFilesStep } from './steps/config-files.js';
import { firewallStep } from './steps/firewall.js';
import { packagesStep } from './steps/packages.js';
import { runtimeStep } from './steps/runtime.js';
import { servicesStep } from './steps/services.js';
import { sshdStep } from './steps/sshd.js';
import { daemonStep } from './steps/daemon.js';
import { relayGuardStep } from './steps/relay-guard.js';
import { tlsStep } from './steps/tls.js';

/** The fixed order of a provisioning run. */
export const STEPS: Step[] = [packagesStep, appUserStep, runtimeStep, configFilesStep, sshdStep, firewallStep, relayGuardStep, servicesStep, tlsStep, daemonStep];

export type StepStatus = 'ok' | 'changed' | 'failed' | 'skipped';

export interface StepReport {
  step: string;
  status: StepStatus;
  /** What changed (or, with --check, what would change). */
  changes: string[];
  /** Handlers that ran after this step (each once, in HANDLERS order); a restart of a unit that was not running is left out. */
  handlers: string[];
  ms: number;
  error?: string;
  hint?: string;
}

export interface HostReport {
  host: string;
  status: 'ok' | 'changed' | 'failed';
  check: boolean;
  steps: StepReport[];
  handlers: string[];
  ms: number;
  error?: string;
  hint?: string;
  /** Unified diffs (--diff), secret-bearing files excluded. */
  diffs: { path: string; diff: string }[];
}

export interface ProvisionOptions {
  check?: boolean;
  diff?: boolean;
  only?: string[];
  skip?: string[];
  onProgress?: Progress;
  /** How to reach the host (default: SSH as the inventory says); the lockout guard opens a second connection with it. */
  connect?: Connect;
}

export function selectSteps(only: string[] = [], skip: string[] = []): Step[] {
  const names = STEPS.map((s) => s.name);
  for (const n of [...only, ...skip]) {
    if (!names.includes(n)) throw new RemoteError('-', `unknown step "${n}"; steps are: ${names.join(', ')}`);
  }
  return STEPS.filter((s) => (only.length === 0 || only.includes(s.name)) && !skip.includes(s.name));
}

async function gatherFacts(target: Runner, steps: Step[], ctx: StepContext): Promise<Facts> {
  const clientIp = (await target.exec(['sh', '-c', 'echo "${SSH_CONNECTION%% *}"'], { summary: 'read the SSH client address' })).stdout.trim();
  ctx.clientIp = clientIp;
  const script = factsScript(mergeRequests(steps.map((s) => s.facts(ctx))));
  return parseFacts((await target.script(script, { root: true, summary: 'gather facts' })).stdout, clientIp);
}

function unifiedDiff(path: string, before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  const out = [`--- ${path} (host)`, `+++ ${path} (rendered)`];
  // A plain LCS diff: config files are small.
  const m = a.length;
  const n = b.length;
  const lcs = Array.from({ length: m + 1 }, () => new Array<number>(n + 1).fill(0));
  for (let i = m - 1; i >= 0; i--) for (let j = n - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  let i = 0;
  let j = 0;
  while (i < m || j < n) {
    if (i < m && j < n && a[i] === b[j]) { i++; j++; continue; }
    if (j < n && (i === m || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) out.push(`+${b[j++]}`);
    else out.push(`-${a[i++]}`);
  }
  return out.join('\n');
}

/** Provisions one host: facts in one round trip, then each step's needed actions, handlers at the end no matter what. */
export async function provisionHost(host: ResolvedHost, secrets: HostSecrets, opts: ProvisionOptions = {}): Promise<HostReport> {
  const t0 = Date.now();
  const report: HostReport = { host: host.name, status: 'ok', check: opts.check === true, steps: [], handlers: [], ms: 0, diffs: [] };
  const steps = selectSteps(opts.only, opts.skip);
  const ctx: StepContext = { host, secrets, rendered: renderHost(host, secrets), prepared: new Map() };
  const progress = opts.onProgress ?? (() => undefined);
  const pending = new Set<string>();
  const connect = opts.connect ?? sshTo(host);
  let target: Runner | undefined;
  try {
    for (const step of steps) await step.prepare?.(ctx);
    progress({ host: host.name, phase: 'connect', state: 'start' });
    target = await connect();
    progress({ host: host.name, phase: 'facts', state: 'start' });
    const tf = Date.now();
    const facts = await gatherFacts(target, steps, ctx);
    progress({ host: host.name, phase: 'facts', state: 'done', ms: Date.now() - tf, detail: `${facts.os.id} ${facts.os.versionId}${facts.os.virt !== 'none' ? ` (${facts.os.virt})` : ''}` });

    // The firewall only ever lets SSH in from adminCidrs, and fail2ban ignores only them (jail.local, written by the
    // config step): refuse up front if this run comes from elsewhere.
    if (steps.some((s) => s === sshdStep || s === firewallStep || s === configFilesStep)) assertAdminAccess(host, facts.clientIp);

    let current = facts;
    let stale = false;
    for (const step of steps) {
      if (stale && report.status !== 'failed') {
        current = await gatherFacts(target, steps, ctx);
        stale = false;
      }
      const ts = Date.now();
      const sr: StepReport = { step: step.name, status: 'ok', changes: [], handlers: [], ms: 0 };
      report.steps.push(sr);
      if (report.status === 'failed') { sr.status = 'skipped'; continue; }
      progress({ host: host.name, phase: step.name, state: 'start' });
      try {
        // A plan can refuse what the facts show (a conflicting sshd drop-in it cannot fix): the step fails, by name.
        const actions = step.plan(ctx, current);
        if (actions.length > 0) sr.status = 'changed';
        for (const action of actions) {
          if (opts.check === true) {
            sr.changes.push(action.summary);
            if (opts.diff === true && action.kind === 'file') report.diffs.push({ path: action.path, diff: await diffFor(target, action, current) });
            if (opts.diff === true && action.kind === 'run' && action.diff !== undefined) report.diffs.push({ path: step.name, diff: `--- ${step.name} (host)\n+++ ${step.name} (plan)\n${action.diff}` });
            continue;
          }
          const changed = await runAction(target, connect, action, current);
          if (changed) {
            sr.changes.push(action.summary);
            for (const h of action.notify ?? []) pending.add(h);
          }
        }
        if (sr.changes.length === 0) sr.status = 'ok';
        else if (step.refreshesFacts === true && opts.check !== true) stale = true;
      } catch (err) {
        sr.status = 'failed';
        recordError(sr, err);
        report.status = 'failed';
        report.error = `step ${step.name}: ${sr.error}`;
        if (sr.hint !== undefined) report.hint = sr.hint;
      }
      // A step's changes take effect before the next step runs (certbot needs nginx serving the new site).
      await flushHandlers(target, host, pending, report, sr);
      sr.ms = Date.now() - ts;
      const pendingOnly = opts.check === true && sr.status === 'changed';
      progress({ host: host.name, phase: step.name, state: 'done', status: pendingOnly ? 'would change' : sr.status, ms: sr.ms, ...(sr.error !== undefined ? { detail: sr.error } : pendingOnly ? { detail: `${sr.changes.length} change(s) pending` } : {}) });
    }
  } catch (err) {
    report.status = 'failed';
    recordError(report, err);
  } finally {
    if (target !== undefined) {
      await flushHandlers(target, host, pending, report, report.steps.filter((x) => x.status !== 'skipped').at(-1));
      if (report.status !== 'failed') report.status = report.steps.some((s) => s.status === 'changed') ? 'changed' : 'ok';
      report.ms = Date.now() - t0;
      if (opts.check !== true) await audit(target, report).catch(() => undefined);
      target.close();
    }
    report.ms = Date.now() - t0;
  }
  return report;
}

/**
 * Runs the pending handlers in HANDLERS order, recorded on the step whose changes asked for them. A changed config must
 * never be left un-reloaded, even after a failure.
 */
async function flushHandlers(target: Runner, host: ResolvedHost, pending: Set<string>, report: HostReport, step: StepReport | undefined): Promise<void> {
  for (const name of Object.keys(HANDLERS).filter((h) => pending.has(h))) {
    pending.delete(name);
    const r = await target.script(sh`daemon_unit=${layoutOf(host).daemonUnit}\nrelay_guard_unit=${layoutOf(host).relayGuardUnit}\nnode_exporter_port=${host.nodeExporter.port}\n${raw(HANDLERS[name] ?? 'true')}`, { root: true, allowFailure: true, summary: name }).catch((e: Error) => ({ code: -1, stderr: e.message, stdout: '' }));
    if (r.code === 0 && r.stdout.includes(UNCHANGED)) continue;
    report.handlers.push(name);
    step?.handlers.push(name);
    if (r.code !== 0) {
      report.status = 'failed';
      report.error = `${report.error !== undefined ? `${report.error}; ` : ''}handler "${name}" failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`;
    }
  }
}

/** Runs one action; false when it turned out to change nothing. */
async function runAction(target: Runner, reconnect: Connect, action: Action, facts: Facts): Promise<boolean> {
  if (action.kind === 'file') {
    const install = () => target.script(fileInstallScript(action), { root: true, summary: action.summary }).then(() => undefined);
    if (action.guard !== 'ssh-access') {
      await install();
      return true;
    }
    const had = facts.files.get(action.path)?.exists === true;
    await withAccessGuard({
      target, reconnect, unit: revertUnitName('sshd'),
      revertScript: `${restoreScript(action.path, had)}\n${HANDLERS['reload ssh']}`,
      // Reloaded now, not at the end: the new connection must see the new config.
      apply: async () => { await install(); await target.script(HANDLERS['reload ssh'] ?? 'true', { root: true, summary: 'reload ssh' }); },
    });
    return true;
  }
  if (action.kind === 'upload') {
    const a = await action.artifact();
    const remote = `/tmp/rtcops-${a.sha256.slice(0, 12)}-${a.name}`;
    await target.upload(readFileSync(a.file), remote, 0o600);
    await target.script([
      sh`ARTIFACT=${remote}`,
      'trap \'rm -f "$ARTIFACT"\' EXIT',
      `if ! echo "${a.sha256}  $ARTIFACT" | sha256sum -c --status; then echo "the uploaded ${a.name} does not match its SHA-256 ${a.sha256}: the upload was damaged; run again" >&2; exit 1; fi`,
      action.script,
    ].join('\n'), { root: true, summary: action.summary });
    return true;
  }
  if (action.kind === 'link') {
    await target.script(linkScript(action), { root: true, summary: action.summary });
    return true;
  }
  if (action.guard === 'ssh-access') {
    if (action.prepare !== undefined) await target.script(action.prepare, { root: true, summary: `save state before: ${action.summary}` });
    await withAccessGuard({
      target, reconnect, unit: revertUnitName(action.revertUnit ?? 'change'),
      revertScript: action.revert ?? 'true',
      apply: () => target.script(action.script, { root: true, summary: action.summary }).then(() => undefined),
    });
    return true;
  }
  const r = await target.script(action.script, { root: true, summary: action.summary });
  return !r.stdout.includes(UNCHANGED);
}

async function diffFor(target: Runner, action: Extract<Action, { kind: 'file' }>, facts: Facts): Promise<string> {
  if (action.secret) return `(secret-bearing file ${action.path}: diff not shown)`;
  const before = facts.files.get(action.path)?.exists === true
    ? (await target.exec(['cat', action.path], { root: true, allowFailure: true })).stdout
    : '';
  return unifiedDiff(action.path, before, action.content.replace(/\n$/, ''));
}

/** One JSON line per run on the host, so the next operator can see what ran, when, by whom, and how it ended. */
async function audit(target: Runner, report: HostReport): Promise<void> {
  const record = {
    host: report.host, status: report.status, ms: report.ms,
    changed: report.steps.filter((s) => s.status === 'changed').map((s) => ({ step: s.step, changes: s.changes })),
    failed: report.steps.filter((s) => s.status === 'failed').map((s) => ({ step: s.step, error: s.error })),
  };
  await target.script(auditScript(PROVISION_LOG, record), { root: true, summary: 'write the audit log' });
}
