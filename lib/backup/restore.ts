import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOperatorChecks } from '../checks/operator.js';
import type { CheckResult } from '../checks/result.js';
import { readArtifact } from '../deploy/artifact.js';
import { linkSharedScript, receiveArgv, switchScript } from '../deploy/commands.js';
import { deployHost, type DeployReport, type Timing } from '../deploy/engine.js';
import { layoutOf, LETSENCRYPT, PM2_BIN, pm2As, sshTo } from '../host/index.js';
import type { HostSecrets, ResolvedHost } from '../inventory/index.js';
import { provisionHost, type HostReport } from '../provision/engine.js';
import { renderHost } from '../render/index.js';
import { nested, Phases, recordError, secs, Stop, type PhaseReport, type Progress } from '../report/phases.js';
import { raw, sh } from '../runner/quote.js';
import type { Connect, Runner } from '../runner/runner.js';
import { ArchiveError, openArchive, sha256, type OpenedArchive } from './archive.js';
import { putBackAlertStateScript, putBackLetsencryptArgv, putBackLogScript } from './commands.js';
import { BackupKeyError, type BackupKey } from './key.js';

export interface RestoreOptions {
  archive: string;
  key: BackupKey;
  /** Restore onto a host that already serves. */
  force?: boolean;
  /** Where the deploy gate and the checks connect instead of DNS, and an extra CA they trust (a test ACME CA). */
  probe?: { address?: string | undefined; caFile?: string | undefined };
  /** Deploy gate and watch overrides. */
  timing?: Partial<Timing>;
  onProgress?: Progress;
  /** How to reach the host (default: SSH as the inventory says); provisioning and the deploy reach it the same way. */
  connect?: Connect;
}

export type RestoreStatus = 'ok' | 'rejected' | 'refused' | 'failed';

export interface RestoreReport {
  host: string;
  /** ok: restored and no check critical; rejected: the archive, key or target is wrong and nothing was touched;
   *  refused: the host already serves (no --force) and nothing was touched; failed: a step on the host failed. */
  status: RestoreStatus;
  archive: string;
  backup?: { host: string; app: string; createdAt: string; release: string | null; previous: string | null; fingerprint: string | null };
  release?: string;
  fingerprint?: string;
  phases: PhaseReport[];
  /** Counts over the judged checks; `results` has every one. */
  checks?: { ok: number; warn: number; critical: number; skipped: number; notJudged: string[]; results: CheckResult[] };
  /** Things the operator should know (host renamed, the inventory renders files differently than the backup had). */
  notes: string[];
  /** From the start of the command to the checks' end. */
  recoveryMs: number;
  error?: string;
  hint?: string;
}

/**
 * Reported but not judged: CPU, memory and load right after apt and a deploy (and on a machine shared with other
 * work) measure the moment, not whether the restore worked.
 */
export const NOT_JUDGED = ['system'];

/** Read-only: does the host serve already? (No jq: a fresh host has none yet.) */
export function servingProbeScript(host: ResolvedHost): string {
  return [
    sh`cur=$(readlink ${layoutOf(host).current} 2>/dev/null || true)`,
    'echo "current=${cur##*/}"',
    // The app's process under any of its names: a deploy slot's, or the single one of a host deployed before slots.
    'pid=',
    sh`if [ -x ${PM2_BIN} ] && id ${host.app.user} >/dev/null 2>&1; then for n in ${[host.app.name, host.app.slots.a.pm2Name, host.app.slots.b.pm2Name]}; do`,
    sh`  p=$(${raw(pm2As(host, ['pid']))} "$n" 2>/dev/null | tail -1); if [ -n "$p" ] && [ "$p" != 0 ]; then pid=$p; break; fi`,
    'done; fi',
    'echo "pm2=$pid"',
    `[ -d ${LETSENCRYPT}/live ] && echo letsencrypt=yes || echo letsencrypt=no`,
    sh`[ -d ${layoutOf(host).releases} ] && echo releases="$(ls -1 ${layoutOf(host).releases} | tr '\\n' ' ')" || echo releases=`,
  ].join('\n');
}

export function parseProbe(text: string): { current: string; pm2Pid: number; letsencrypt: boolean; releases: string[] } {
  const kv = new Map(text.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
  return {
    current: kv.get('current') ?? '',
    pm2Pid: Number(kv.get('pm2') ?? '0') || 0,
    letsencrypt: kv.get('letsencrypt') === 'yes',
    releases: (kv.get('releases') ?? '').split(' ').filter((r) => r !== ''),
  };
}

/** Non-secret configs whose backed-up copy differs from what the inventory renders now. */
function drift(host: ResolvedHost, secrets: HostSecrets, a: OpenedArchive): string[] {
  const rendered = new Map(renderHost(host, secrets).files.map((f) => [f.path, sha256(f.content)]));
  return a.manifest.members.filter((m) => m.kind === 'config' && m.hostPath !== undefined && rendered.has(m.hostPath) && rendered.get(m.hostPath) !== m.sha256).map((m) => m.hostPath as string);
}

/** A script as argv, so that stdin is free for the data it reads (Runner.script sends the script itself on stdin). */
const bashWithStdin = (script: string) => ['bash', '-c', `set -euo pipefail\n${script}`];

async function stdinOf(a: OpenedArchive, path: string): Promise<Buffer> {
  return readFileSync(join(a.dir, path));
}

/**
 * Restores one host from an archive: verify it completely here (checksums, manifest, app, key) → look at the host
 * (refuse one that serves, unless forced) → packages → /etc/letsencrypt and the audit logs put back → provision
 * (certbot sees the certificate and issues nothing) → the previous release unpacked, the live one deployed under its
 * own id through the deploy gate → the alert state → the daemon's checks. Nothing touches the host before the archive
 * and key are proven good.
 */
export async function restoreHost(host: ResolvedHost, secrets: HostSecrets, opts: RestoreOptions): Promise<RestoreReport> {
  const t0 = Date.now();
  const phases = new Phases(host.name, opts.onProgress);
  const report: RestoreReport = { host: host.name, status: 'ok', archive: opts.archive, phases: phases.list, notes: [], recoveryMs: 0 };
  const say = (detail: string) => opts.onProgress?.({ host: host.name, phase: 'restore', state: 'start', detail });
  let archive: OpenedArchive | undefined;
  const connect = opts.connect ?? sshTo(host);
  let target: Runner | undefined;
  try {
    archive = await phases.run('verify', async () => {
      let a: OpenedArchive;
      try {
        a = await openArchive(opts.archive, opts.key, { app: host.app.name, certName: host.tls.certName });
      } catch (err) {
        if (err instanceof ArchiveError || err instanceof BackupKeyError) throw new Stop('rejected', err.message, err.hint);
        throw err;
      }
      const cur = a.manifest.releases.current;
      if (cur?.artifact !== undefined) {
        const art = await readArtifact(join(a.dir, cur.artifact)).catch((err: Error) => { a.close(); throw new Stop('rejected', `the archive's release ${cur.id} is not a usable artifact: ${err.message}`, 'use another backup'); });
        if (cur.sha !== undefined && art.sha !== cur.sha) { a.close(); throw new Stop('rejected', `the archive's release ${cur.id} holds commit ${art.sha.slice(0, 12)}, its manifest says ${cur.sha.slice(0, 12)}`, 'use an unaltered copy of this backup'); }
      }
      return { value: a, detail: `${a.manifest.members.length} member(s) match their SHA-256, secrets decrypt with ${opts.key.source}; backup of ${a.manifest.host} from ${a.manifest.startedAt}, release ${cur?.id ?? '(none)'}` };
    });
    const m = archive.manifest;
    report.backup = { host: m.host, app: m.app, createdAt: m.startedAt, release: m.releases.current?.id ?? null, previous: m.releases.previous?.id ?? null, fingerprint: m.tls.fingerprint };
    if (m.host !== host.name) report.notes.push(`the backup is of host "${m.host}"; restoring it onto "${host.name}"`);
    const drifted = drift(host, secrets, archive);
    if (drifted.length > 0) report.notes.push(`the inventory now renders ${drifted.length} file(s) differently from the backup (provisioning writes the inventory's version): ${drifted.join(', ')}`);

    target = await phases.run('connect', async () => ({ value: await connect(), detail: `${host.ssh.user}@${host.ssh.address}` }));
    const conn = target;
    const before = await phases.run('inspect', async () => {
      const p = parseProbe((await conn.script(servingProbeScript(host), { root: true, summary: 'look at the host' })).stdout);
      const serves = p.current !== '' ? `release ${p.current} is current` : p.pm2Pid > 0 ? `PM2 runs ${host.app.name} (pid ${p.pm2Pid})` : undefined;
      if (serves !== undefined && opts.force !== true) {
        throw new Stop('refused', `${host.name} already serves (${serves}); a restore is for a fresh host, nothing was changed`, `restore onto a fresh host, or run again with --force to put this backup over what ${host.name} runs now`);
      }
      return { value: p, detail: serves === undefined ? `fresh: no release, ${host.app.name} not running${p.letsencrypt ? ', has /etc/letsencrypt' : ''}` : `serves (${serves}), --force given` };
    });

    const provision = async (phase: string, only?: string[]): Promise<HostReport> => phases.run(phase, async () => {
      const r = await provisionHost(host, secrets, {
        ...(only !== undefined ? { only } : {}),
        onProgress: nested(opts.onProgress, phase),
        connect,
      });
      if (r.status === 'failed') throw new Stop('failed', `provisioning failed: ${r.error ?? '?'}`, r.hint ?? `see the output above; after fixing, run again with --force (the host is partly restored)`);
      const changed = r.steps.filter((s) => s.status === 'changed').map((s) => s.step);
      return { value: r, detail: changed.length === 0 ? 'nothing to change' : `changed: ${changed.join(', ')}` };
    });

    // The old host's history first, so this run's provisioning and deploy lines follow it.
    await phases.run('audit-logs', async () => {
      const logs = m.members.filter((x) => x.kind === 'log' && x.hostPath !== undefined);
      const done: string[] = [];
      for (const l of logs) {
        const r = await conn.exec(bashWithStdin(putBackLogScript(l.hostPath as string)), { root: true, stdin: await stdinOf(archive!, l.path), summary: `put back ${l.hostPath}` });
        done.push(`${l.hostPath} ${r.stdout.trim()}`);
      }
      return { value: undefined, detail: done.length === 0 ? 'none in the backup' : done.join(', ') };
    });
    // Certificates and the ACME account go back before provisioning, so the tls step finds them and certbot issues
    // nothing; their owners (coturn's group) exist once the packages are installed.
    await provision('packages', ['packages']);
    await phases.run('certificates', async () => {
      if (!m.secretPaths.includes(LETSENCRYPT)) return { value: undefined, detail: 'the backup holds no /etc/letsencrypt: provisioning will request a certificate' };
      await conn.exec(putBackLetsencryptArgv(), { root: true, stdin: Buffer.from(archive!.secrets), summary: 'put /etc/letsencrypt back' });
      const fp = (await conn.exec(['openssl', 'x509', '-in', host.tls.fullchain, '-noout', '-fingerprint', '-sha256'], { root: true, summary: 'read the certificate' })).stdout.trim().split('=')[1] ?? '';
      if (m.tls.fingerprint !== null && fp !== m.tls.fingerprint) throw new Stop('failed', `the certificate put back has fingerprint ${fp}, the backup recorded ${m.tls.fingerprint}`);
      report.fingerprint = fp;
      return { value: undefined, detail: `/etc/letsencrypt (account, renewal config, ${host.tls.certName} certificate ${fp.slice(0, 23)}…, valid until ${m.tls.notAfter ?? '?'})` };
    });
    await provision('provision');

    await phases.run('releases', async () => {
      const cur = m.releases.current;
      if (cur === null || cur.artifact === undefined) return { value: undefined, detail: 'the backup holds no release: deploy one with scripts/deploy.mjs' };
      const prev = m.releases.previous;
      const present = new Set(parseProbe((await conn.script(servingProbeScript(host), { root: true })).stdout).releases);
      if (prev !== null && prev.artifact !== undefined && !present.has(prev.id)) {
        const meta = { id: prev.id, sha: prev.sha, ref: prev.ref, builtAt: prev.builtAt, uploadedAt: new Date().toISOString(), uploadedBy: `restore of ${m.host} ${m.startedAt}` };
        await conn.exec(receiveArgv(host, prev.id, meta), { root: true, stdin: await stdinOf(archive!, prev.artifact), summary: `unpack release ${prev.id}` });
        await conn.script(linkSharedScript(host, prev.id), { root: true, summary: 'link shared files' });
        say(`previous release ${prev.id} unpacked (rollback target)`);
      }
      let deploy: DeployReport | undefined;
      const common = {
        now: true,
        probe: { address: opts.probe?.address, ca: opts.probe?.caFile !== undefined ? readFileSync(opts.probe.caFile) : undefined },
        ...(opts.timing !== undefined ? { timing: opts.timing } : {}),
        onProgress: nested(opts.onProgress, 'releases'),
        connect,
      };
      if (before.current === cur.id) return { value: undefined, detail: `${cur.id} is already current` };
      if (present.has(cur.id)) deploy = await deployHost(host, secrets, { action: 'rollback', to: cur.id, ...common });
      else deploy = await deployHost(host, secrets, { action: 'deploy', artifact: await readArtifact(join(archive!.dir, cur.artifact)), releaseId: cur.id, ...common });
      if (deploy.status !== 'ok') throw new Stop('failed', `the release ${cur.id} did not pass the deploy gate: ${deploy.error ?? deploy.status}`, deploy.hint);
      if (prev !== null) await conn.script(switchScript(host, cur.id, prev.id), { root: true, summary: 'set the previous release' });
      report.release = cur.id;
      const gate = deploy.phases.find((p) => p.phase === 'gate');
      return { value: undefined, detail: `${cur.id} serves${prev !== null ? `, previous ${prev.id}` : ''}; ${gate?.detail ?? 'gate passed'}` };
    });

    await phases.run('alert-state', async () => {
      const state = m.members.find((x) => x.kind === 'state');
      if (state === undefined) return { value: undefined, detail: 'none in the backup' };
      await conn.exec(bashWithStdin(putBackAlertStateScript(host)), { root: true, stdin: await stdinOf(archive!, state.path), summary: 'put the alert state back' });
      const alerts = Object.keys((JSON.parse(readFileSync(join(archive!.dir, state.path), 'utf8')) as { alerts?: object }).alerts ?? {}).length;
      return { value: undefined, detail: `${state.hostPath ?? ''} (${alerts} alert state(s)); the health daemon restarted with it` };
    });

    await phases.run('checks', async () => {
      const results = await runOperatorChecks(host, secrets, { address: opts.probe?.address, httpsPort: 443, caFile: opts.probe?.caFile });
      const judged = results.filter((r) => !NOT_JUDGED.includes(r.check));
      const count = (s: CheckResult['status']) => judged.filter((r) => r.status === s).length;
      report.checks = { ok: count('ok'), warn: count('warn'), critical: count('critical'), skipped: count('skipped'), notJudged: [...NOT_JUDGED], results };
      const detail = `${count('ok')} ok, ${count('warn')} warn, ${count('critical')} critical, ${count('skipped')} skipped${results.length > judged.length ? ` (${NOT_JUDGED.join(', ')} reported, not judged)` : ''}`;
      if (count('critical') > 0) {
        throw new Stop('failed', `the daemon's checks are critical after the restore: ${judged.filter((r) => r.status === 'critical').map((r) => `${r.check} ${r.target}: ${r.message}`).join('; ')}`, `npx zx scripts/check.mjs ${host.name} for details`);
      }
      return { value: undefined, detail };
    });
  } catch (err) {
    report.status = err instanceof Stop ? (err.status as RestoreStatus) : err instanceof ArchiveError ? 'rejected' : 'failed';
    recordError(report, err);
  } finally {
    target?.close();
    archive?.close();
    report.recoveryMs = Date.now() - t0;
  }
  return report;
}

export function restoreSummary(r: RestoreReport): string {
  const lines: string[] = [];
  const head = r.status === 'ok' ? `RESTORED from ${r.archive}`
    : r.status === 'rejected' ? 'REJECTED the archive, nothing was changed on the host'
      : r.status === 'refused' ? 'REFUSED, nothing was changed on the host' : 'FAILED';
  lines.push(`${r.host}: ${head}`);
  if (r.backup !== undefined) lines.push(`  backup: ${r.backup.app} on ${r.backup.host}, taken ${r.backup.createdAt}, release ${r.backup.release ?? '(none)'}`);
  if (r.release !== undefined) lines.push(`  serving: ${r.release}`);
  if (r.fingerprint !== undefined) lines.push(`  certificate: SHA-256 ${r.fingerprint}`);
  if (r.checks !== undefined) {
    const c = r.checks;
    const flagged = c.results.filter((x) => x.status === 'warn' || x.status === 'critical');
    lines.push(`  checks: ${c.ok} ok, ${c.warn} warn, ${c.critical} critical, ${c.skipped} skipped`);
    for (const w of flagged.filter((x) => !c.notJudged.includes(x.check))) lines.push(`    ${w.status} ${w.check} ${w.target}: ${w.message}`);
    // Counted apart so the line above and these never contradict each other: they measure the moment, not the restore.
    const moment = flagged.filter((x) => c.notJudged.includes(x.check));
    if (moment.length > 0) lines.push(`  not judged (${c.notJudged.join(', ')}: the load right after the restore):`, ...moment.map((w) => `    ${w.status} ${w.check} ${w.target}: ${w.message}`));
  }
  for (const n of r.notes) lines.push(`  note: ${n}`);
  if (r.error !== undefined) lines.push(`  error: ${r.error}`);
  if (r.hint !== undefined) lines.push(`  fix: ${r.hint}`);
  const top = r.phases.filter((p) => !p.phase.includes('/'));
  if (top.length > 0) lines.push(`  phases: ${top.map((p) => `${p.phase} ${p.status === 'ok' ? secs(p.ms) : p.status}`).join(', ')}`);
  lines.push(`  recovery time: ${secs(r.recoveryMs)}${r.status === 'ok' ? ' (from the command to the checks passing)' : ''}`);
  return lines.join('\n');
}
