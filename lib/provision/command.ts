import { EXIT, UsageError, parseCli, type Io } from '../cli.js';
import { loadInventory, resolveHostInputs } from '../inventory/index.js';
import { selectTargets } from '../host/index.js';
import { progressLine, secs } from '../report/phases.js';
import { startEmbeddedSandbox } from './embedded-sandbox.js';
import { STEPS, provisionHost, selectSteps, type HostReport } from './engine.js';

const spec = {
  usage: 'provision.mjs <host|group>... [--check] [--diff] [--only STEP] [--skip STEP]',
  description: 'Bring hosts to the state the inventory describes, over SSH, idempotently: only what differs is changed, and a run with nothing to do says so. '
    + `Steps, in order: ${STEPS.map((s) => s.name).join(', ')}.`,
  options: {
    check: { type: 'boolean', default: false },
    diff: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    skip: { type: 'string', multiple: true },
    parallel: { type: 'string', default: '4' },
  },
  help: {
    check: 'Dry run: gather facts and print the plan; change nothing. Exit 3 when changes are pending, 0 when there are none',
    diff: 'With --check: show a unified diff of every config file that would change (secret files excluded)',
    only: 'Run only this step (repeatable)',
    skip: 'Skip this step (repeatable)',
    parallel: 'Hosts provisioned at once (default 4)',
  },
} as const;

async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  }));
  return results;
}

export function summary(reports: HostReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    const count = (s: string) => r.steps.filter((x) => x.status === s).length;
    const verb = r.check ? 'would change' : 'changed';
    lines.push(`${r.host}: ${r.status === 'failed' ? 'FAILED' : r.status === 'changed' ? (r.check ? 'changes pending' : 'changed') : 'nothing to do'} — ok ${count('ok')}, ${verb} ${count('changed')}, failed ${count('failed')}, skipped ${count('skipped')} in ${secs(r.ms)}`);
    for (const s of r.steps.filter((x) => x.changes.length > 0 || x.handlers.length > 0)) {
      lines.push(`  ${s.step}:`);
      for (const c of s.changes) lines.push(`    ${r.check ? '~' : '+'} ${c}`);
      if (s.handlers.length > 0) lines.push(`    then: ${s.handlers.join(', ')}`);
    }
    if (r.error !== undefined) lines.push(`  error: ${r.error}`);
    if (r.hint !== undefined) lines.push(`  fix: ${r.hint}`);
    for (const d of r.diffs) lines.push(d.diff);
  }
  const failed = reports.filter((r) => r.status === 'failed').map((r) => r.host);
  const changed = reports.filter((r) => r.status === 'changed').length;
  lines.push(failed.length > 0 ? `failed on: ${failed.join(', ')}` : changed === 0 ? `${reports.length} host(s): nothing to do, nothing changed` : `${reports.length} host(s): ${changed} ${reports[0]?.check ? 'with pending changes' : 'changed'}`);
  return lines.join('\n');
}

export async function provisionMain(argv: string[], io: Io): Promise<number> {
  const args = parseCli(spec, argv, io);
  if (args === undefined) return EXIT.ok;
  if (args.positionals.length === 0) throw new UsageError('provision: name a host or group (e.g. sandbox)');
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  const only = list(args.values.only);
  const skip = list(args.values.skip);
  try {
    selectSteps(only, skip);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const parallel = Number(args.values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1) throw new UsageError('--parallel takes a whole number ≥ 1');

  const inventory = loadInventory(args.inventory);
  const hosts = selectTargets(inventory, args.positionals);
  // The built-in sandbox host is booted first when it is not running (it also creates its secrets file).
  const sandboxExit = await startEmbeddedSandbox(hosts, io);
  if (sandboxExit !== undefined) return sandboxExit;
  // Every secret of every host is checked before anything connects.
  const secrets = new Map(hosts.map((h) => [h.name, resolveHostInputs(h, inventory.file, 'provision')]));
  const t0 = Date.now();
  io.err(`provisioning ${hosts.map((h) => h.name).join(', ')}${args.values.check === true ? ' (check: no changes)' : ''}`);
  const reports = await pool(hosts, parallel, (host) => provisionHost(host, secrets.get(host.name)!, {
    check: args.values.check === true,
    diff: args.values.diff === true,
    only, skip,
    onProgress: (e) => io.err(progressLine(e)),
  }));
  if (args.json) io.out(JSON.stringify({ ok: reports.every((r) => r.status !== 'failed'), ms: Date.now() - t0, hosts: reports }, null, 2));
  else io.out(summary(reports));
  if (reports.some((r) => r.status === 'failed')) return EXIT.failed;
  return args.values.check === true && reports.some((r) => r.status === 'changed') ? EXIT.pending : EXIT.ok;
}

