import { execFileSync } from 'node:child_process';
import { EXIT, UsageError, parseCli, type Io } from '../cli.js';
import { loadInventory, probeReach, readProbeCa, resolveHostInputs, selectHost, type HostSecrets, type ResolvedHost } from '../inventory/index.js';
import { auditTailScript, DEPLOY_LOG, selectTargets, sshTo } from '../host/index.js';
import { progressLine, secs } from '../report/phases.js';
import { buildArtifact, readArtifact, type Artifact } from './artifact.js';
import { stateScript } from './commands.js';
import { deployHost, type DeployOptions, type DeployReport } from './engine.js';
import { interruptOnSignals } from './interrupt.js';
import { RELEASE_ID, type ReleaseInfo } from './release.js';
import { describeHolder, lockStatus } from './lock.js';

const common = {
  now: { type: 'boolean', default: false },
  'force-unlock': { type: 'boolean', default: false },
  'probe-direct': { type: 'boolean', default: false },
  'ca-file': { type: 'string' },
} as const;

const commonHelp = {
  now: 'Switch at once, without waiting for the running release\'s calls to end',
  'force-unlock': 'Break a stale lock left by a deploy that was killed (a running deploy\'s lock is never broken)',
  'probe-direct': 'The signaling probe connects to each host\'s ssh.address (TLS name and Host stay the domain): before DNS points at the host. Automatic when no name can resolve (the sandbox\'s .test names)',
  'ca-file': 'Trust this CA for the signaling probe (a test ACME server\'s roots). Default: the inventory\'s acme.issuerRoots, if set',
} as const;

const deploySpec = {
  usage: 'deploy.mjs <host|group>... [--ref <git ref> | --artifact <tarball>] [--now] [--force-unlock]',
  description: 'Ship a release: lock the host, upload the build of a git ref (default HEAD) beside the running one, check its config, '
    + 'wait for calls to end, switch `current` atomically, reload PM2, and pass the health gate (/healthz, /readyz, a signaling round trip through nginx) '
    + 'and the watch period. On failure the previous release is restored and checked. Hosts of a group go one at a time; the first failure stops the rest.',
  options: { ref: { type: 'string' }, artifact: { type: 'string' }, ...common },
  help: { ref: 'Git ref to build (default HEAD; built once, cached by sha)', artifact: 'Ship this release tarball instead of building', ...commonHelp },
} as const;

const rollbackSpec = {
  usage: 'rollback.mjs <host|group>... [--to <release id>] [--watch] [--now] [--force-unlock]',
  description: 'Return to the previous release (or the one named with --to) through the same path as a deploy: lock, config check, drain, switch, reload, health gate, watch.',
  options: { to: { type: 'string' }, watch: { type: 'boolean', default: false }, ...common },
  help: { to: 'Release id to return to (see releases.mjs)', watch: 'Watch the release for deploy.watchSec even though it served before (a release that never served is always watched)', ...commonHelp },
} as const;

const releasesSpec = {
  usage: 'releases.mjs <host> [--last N]',
  description: `The releases on a host: which is current and previous, when and by whom each was uploaded, which failed, and the last deploys' outcomes (${DEPLOY_LOG}).`,
  options: { last: { type: 'string', default: '10' } },
  help: { last: 'How many audit log entries to show (default 10)' },
} as const;

export function deploySummary(reports: DeployReport[], skipped: string[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    const verb = r.action === 'deploy' ? 'deployed' : 'rolled back to';
    const sig = r.interrupted;
    const head = r.status === 'ok' ? `${verb} ${r.release}${r.from !== undefined ? ` (was ${r.from})` : ''}${sig !== undefined ? ` (${sig} arrived after it was verified: kept)` : ''}`
      : sig !== undefined && r.status === 'rolled-back' ? `INTERRUPTED by ${sig}: ${r.release} not kept, ${r.serving} serves`
        : sig !== undefined && r.status === 'refused' ? `INTERRUPTED by ${sig}, nothing switched`
          : r.status === 'rolled-back' ? `ROLLED BACK: ${r.release} failed, ${r.serving} serves again`
            : r.status === 'refused' ? 'REFUSED, nothing switched' : 'FAILED';
    lines.push(`${r.host}: ${head} in ${secs(r.ms)}`);
    if (r.repaired !== undefined) lines.push(`  first, after a killed deploy: ${r.repaired}`);
    if (r.error !== undefined) lines.push(`  ${sig !== undefined && r.status !== 'failed' ? 'why' : 'error'}: ${r.error}`);
    if (r.hint !== undefined) lines.push(`  ${sig !== undefined && r.status !== 'failed' ? 'next' : 'fix'}: ${r.hint}`);
    if (r.alertError !== undefined) lines.push(`  the alert about it was NOT sent (${r.alertError}): tell the team yourself, and check alerts.* in the inventory`);
    if (r.logs !== undefined && r.logs.length > 0) {
      lines.push('  what the failed release logged:');
      for (const l of r.logs.slice(-12)) lines.push(`    ${l}`);
    }
    if (r.pruned.length > 0) lines.push(`  pruned: ${r.pruned.join(', ')}`);
  }
  if (skipped.length > 0) lines.push(`not attempted (${reports.some((r) => r.interrupted !== undefined) ? 'interrupted' : 'an earlier host failed'}): ${skipped.join(', ')}`);
  const bad = reports.filter((r) => r.status !== 'ok').map((r) => r.host);
  lines.push(bad.length > 0 ? `failed on: ${bad.join(', ')}` : `${reports.length} host(s): ok`);
  return lines.join('\n');
}

function gitToplevel(): string {
  try {
    return execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    throw new UsageError('deploy: run it inside the git work tree of the app (or give --artifact)');
  }
}

async function runHosts(action: 'deploy' | 'rollback', args: NonNullable<ReturnType<typeof parseCli>>, io: Io, artifactOf: (host: ResolvedHost) => Promise<Artifact | undefined>, extra: Partial<DeployOptions>): Promise<number> {
  const inventory = loadInventory(args.inventory);
  const hosts = selectTargets(inventory, args.positionals);
  const secrets = new Map<string, HostSecrets>(hosts.map((h) => [h.name, resolveHostInputs(h, inventory.file, 'connect')]));
  const flagCa = typeof args.values['ca-file'] === 'string' ? args.values['ca-file'] : undefined;
  const reaches = new Map(hosts.map((h) => {
    const reach = probeReach(h, { probeDirect: args.values['probe-direct'] === true, caFile: flagCa });
    let ca: Buffer | undefined;
    try {
      ca = readProbeCa(h, reach.caFile, flagCa !== undefined);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (reach.note !== undefined) io.err(`[${h.name}] ${reach.note}`);
    return [h.name, { address: reach.address, ca }];
  }));
  const t0 = Date.now();
  const reports: DeployReport[] = [];
  const skipped: string[] = [];
  // Ctrl-C (or a CI cancel) finishes each host's decision instead of leaving it half-way (lib/deploy/interrupt.ts).
  const signals = extra.interrupt === undefined ? interruptOnSignals((line) => io.err(line)) : undefined;
  const interrupt = extra.interrupt ?? signals?.interrupt;
  try {
    for (const host of hosts) {
      if (reports.some((r) => r.status !== 'ok') || interrupt?.requested === true) {
        skipped.push(host.name);
        continue;
      }
      const artifact = await artifactOf(host);
      reports.push(await deployHost(host, secrets.get(host.name)!, {
        action,
        ...(artifact !== undefined ? { artifact } : {}),
        now: args.values.now === true,
        forceUnlock: args.values['force-unlock'] === true,
        probe: { address: reaches.get(host.name)?.address, ca: reaches.get(host.name)?.ca },
        ...extra,
        ...(interrupt !== undefined ? { interrupt } : {}),
        onProgress: (e) => io.err(progressLine(e)),
      }));
    }
  } finally {
    signals?.dispose();
  }
  if (args.json) io.out(JSON.stringify({ ok: reports.every((r) => r.status === 'ok') && skipped.length === 0, ms: Date.now() - t0, hosts: reports, skipped }, null, 2));
  else io.out(deploySummary(reports, skipped));
  return reports.every((r) => r.status === 'ok') && skipped.length === 0 ? EXIT.ok : EXIT.failed;
}

export async function deployMain(argv: string[], io: Io, extra: Partial<DeployOptions> = {}): Promise<number> {
  const args = parseCli(deploySpec, argv, io);
  if (args === undefined) return EXIT.ok;
  if (args.positionals.length === 0) throw new UsageError('deploy: name a host or group');
  const ref = args.values.ref;
  const file = args.values.artifact;
  if (typeof ref === 'string' && typeof file === 'string') throw new UsageError('deploy: give --ref or --artifact, not both');
  // One build per release of the hosts (the worker may differ, see findWorkerBin), shared by the hosts of that release.
  const builds = new Map<string, Promise<Artifact>>();
  return runHosts('deploy', args, io, async (host) => {
    if (typeof file === 'string') return readArtifact(file);
    const build = builds.get(host.os) ?? (async () => {
      const repo = gitToplevel();
      const r = typeof ref === 'string' ? ref : 'HEAD';
      io.err(`build ${r} …`);
      const t0 = Date.now();
      const a = await buildArtifact({ repo, ref: r, os: host.os, onProgress: (d) => io.err(`build ${d} …`) });
      io.err(`build ok (${secs(Date.now() - t0)}): ${a.sha.slice(0, 12)}, ${(a.bytes / 1048576).toFixed(1)} MB${a.cached ? ' (cached)' : ''}`);
      return a;
    })();
    builds.set(host.os, build);
    return build;
  }, extra);
}

export async function rollbackMain(argv: string[], io: Io, extra: Partial<DeployOptions> = {}): Promise<number> {
  const args = parseCli(rollbackSpec, argv, io);
  if (args === undefined) return EXIT.ok;
  if (args.positionals.length === 0) throw new UsageError('rollback: name a host or group');
  const to = args.values.to;
  if (typeof to === 'string' && !RELEASE_ID.test(to)) throw new UsageError(`rollback: "${to}" is not a release id (like 20250102T030405Z-0123abcd4567; see releases.mjs)`);
  return runHosts('rollback', args, io, async () => undefined, { ...(typeof to === 'string' ? { to } : {}), ...(args.values.watch === true ? { watch: true } : {}), ...extra });
}

interface AuditEntry { time: string; by: string; action: string; status: string; release?: string; from?: string; ms?: number; error?: string; interrupted?: string }

export async function releasesMain(argv: string[], io: Io): Promise<number> {
  const args = parseCli(releasesSpec, argv, io);
  if (args === undefined) return EXIT.ok;
  if (args.positionals.length !== 1) throw new UsageError('releases: name one host');
  const last = Number(args.values.last);
  if (!Number.isInteger(last) || last < 0) throw new UsageError('--last takes a whole number');
  const host: ResolvedHost = selectHost(loadInventory(args.inventory), args.positionals[0] ?? '');
  const target = await sshTo(host)();
  try {
    const state = JSON.parse((await target.script(stateScript(host), { root: true, summary: 'read the releases' })).stdout) as { releases: ReleaseInfo[]; current: string | null; previous: string | null; freeKb: number };
    const history = (await target.script(auditTailScript(DEPLOY_LOG, last), { root: true, summary: 'read the deploy log' })).stdout
      .split('\n').filter(Boolean).flatMap((l) => { try { return [JSON.parse(l) as AuditEntry]; } catch { return []; } });
    const lock = await lockStatus(target, host);
    if (args.json) {
      io.out(JSON.stringify({ host: host.name, current: state.current, previous: state.previous, freeKb: state.freeKb, releases: state.releases, history, lock }, null, 2));
      return EXIT.ok;
    }
    const lines = [`${host.name}: ${state.releases.length} release(s) in ${host.app.releasesDir}, ${Math.floor(state.freeKb / 1024)} MB free`];
    if (lock.state === 'held') lines.push(`a deploy is running now: ${describeHolder(lock.record)}`);
    if (lock.state === 'stale') {
      lines.push(`KILLED: ${describeHolder(lock.record)}; that deploy is no longer running and left its lock.`,
        `  The next deploy or rollback with --force-unlock breaks it and first puts the host back in order: callers back on the release that served before it (${lock.record?.from ?? '?'}) if the killed one had reached them, current and previous fixed, the killed release stopped.`);
    }
    for (const r of [...state.releases].sort((a, b) => b.id.localeCompare(a.id))) {
      const mark = r.id === state.current ? '* ' : '  ';
      const tags = [r.id === state.current ? 'current' : '', r.id === state.previous ? 'previous' : '', r.served !== undefined && r.failed === undefined ? `served since ${r.served}` : '',
        r.failed !== undefined ? `FAILED: ${r.failed.split('\n')[0]?.slice(0, 120)}` : ''].filter(Boolean);
      lines.push(`${mark}${r.id}  ${r.ref ?? ''}${r.sha !== undefined ? ` ${r.sha.slice(0, 12)}` : ''}  uploaded ${r.uploadedAt ?? '?'} by ${r.uploadedBy ?? '?'}  ${Math.round((r.sizeKb ?? 0) / 1024)} MB${tags.length > 0 ? `  [${tags.join('; ')}]` : ''}`);
    }
    lines.push('', history.length === 0 ? 'no deploys recorded yet' : `last ${history.length} deploy(s) (${DEPLOY_LOG}):`);
    for (const h of history) {
      // A refused rollback had no release to go to: nothing to name.
      lines.push(`  ${h.time}  ${h.action}${h.release !== undefined ? ` ${h.release}` : ''}  ${h.status}${h.interrupted !== undefined ? ` (interrupted by ${h.interrupted})` : ''}${h.ms !== undefined ? ` in ${secs(h.ms)}` : ''}  by ${h.by}${h.error !== undefined ? `: ${h.error.slice(0, 160)}` : ''}`);
    }
    io.out(lines.join('\n'));
    return EXIT.ok;
  } finally {
    target.close();
  }
}
