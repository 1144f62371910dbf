/**
 * Provisioning benchmark against a sandbox host of its own (--name, default "bench-prov"; its own bridge, apt cache and copy-on-write
 * layer; a local pebble on its bridge for the certificate), three figures measured in the same run:
 *  1. cold run: provisionMain on a fresh sandbox, against the bare `apt-get update && apt-get install` of the same
 *     package list on another fresh sandbox. A warm-up install on a first fresh sandbox fills the sandbox's apt
 *     cache (apt-cacher-ng, kept across sandboxes of this name) first, so both timed runs fetch from a warm cache;
 *  2. no-change re-run: median and p90 of --runs runs of provisionMain;
 *  3. the same no-change checks by ansible-playbook (Debian's ansible package, installed if missing) with
 *     bench/ansible/provision-equivalent.yml: one run that must report changed=0, then --runs timed runs.
 * rtcops is timed in-process (provisionMain, no Node.js start-up); ansible-playbook as a process (its start-up is
 * printed too). Everything runs on this machine: the sandbox guest shares its cores with the bench.
 *
 *   node --import tsx bench/provision.ts [--runs 5] [--name bench-prov]
 *
 * A sandbox of that name that is already running (another bench run, or yours) is left alone: the bench stops with
 * exit 2 and says so. A failed run prints what failed and exits 1; it never prints figures.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadInventory, resolveSecrets, type ResolvedHost } from '../lib/inventory/index.js';
import { daemonBundle } from '../lib/provision/artifacts.js';
import { provisionMain } from '../lib/provision/command.js';
import { STEPS, type HostReport } from '../lib/provision/engine.js';
import type { StepContext } from '../lib/provision/step.js';
import { packagesFor } from '../lib/provision/steps/packages.js';
import { appUserStep } from '../lib/provision/steps/app-user.js';
import { runtimeStep } from '../lib/provision/steps/runtime.js';
import { ACME_CA_PATH, tlsStep } from '../lib/provision/steps/tls.js';
import { renderHost } from '../lib/render/files.js';
import { pm2LogrotateSettings } from '../lib/render/server-env.js';
import { runInGuest, sandboxDown, sandboxStatus, sandboxUp, type SandboxUpResult } from '../lib/sandbox/index.js';
import { startPebble, type TestAcme } from '../test/helpers/pebble.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, name: { type: 'string', default: 'bench-prov' } } });
const RUNS = Number(values.runs);
const NAME = values.name;
const PLAYBOOK = resolve('bench/ansible/provision-equivalent.yml');

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const log = (text: string) => console.error(`[bench] ${text}`);

// ---- cleanup on success, failure and Ctrl-C ------------------------------------------------------------------

const abort = new AbortController();
const dir = mkdtempSync(join(tmpdir(), 'rtcops-bench-prov-'));
let acme: TestAcme | undefined;
let sandboxMayRun = false;

async function cleanup(): Promise<void> {
  const a = acme;
  acme = undefined;
  await a?.stop().catch((e: Error) => log(`pebble stop: ${e.message}`));
  if (sandboxMayRun) {
    sandboxMayRun = false;
    await sandboxDown({ name: NAME }).catch((e: Error) => log(`sandbox down: ${e.message}`));
  }
  rmSync(dir, { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping pebble and the ${NAME} sandbox`);
    abort.abort();
    void cleanup().finally(() => process.exit(130));
  });
}

/** Down first (also a bench-prov left over by an interrupted run), then up: a new copy-on-write layer on the image. */
async function freshSandbox(): Promise<SandboxUpResult> {
  sandboxMayRun = true;
  await sandboxDown({ name: NAME });
  const sb = await sandboxUp({ name: NAME, signal: abort.signal });
  if (sb.alreadyRunning) throw new Error(`sandbox ${NAME} was already running: not a fresh copy`);
  return sb;
}

// ---- the inventory (as in test/integration/provision/sandbox-e2e.test.ts) --------------------------------------

function inventoryYaml(sb: SandboxUpResult, ca: TestAcme): string {
  return `
hosts:
  ${NAME}:
    os: debian-12
    adminCidrs: [${sb.hostAddress}/32]
    ssh: { address: ${sb.address}, user: ${sb.user}, keyPath: ${sb.keyPath}, knownHostsFile: ${sb.knownHostsPath} }
    acme: { email: ops@sandbox.test, directoryUrl: ${ca.directoryUrl}, caBundle: ${ca.caFile} }
    secrets:
      jwtSecret: { env: BENCH_JWT_SECRET }
      adminToken: { env: BENCH_ADMIN_TOKEN }
      turnSecret: { env: BENCH_TURN_SECRET }
    app: { name: rtcops, user: rtcops, port: 3000, domains: [rtc.sandbox.test], numWorkers: 1 }
    mediasoup: { announcedIp: ${sb.address}, rtcPorts: { min: 40000, max: 40999 } }
    turn: { domain: turn.sandbox.test, relayPorts: { min: 50000, max: 50999 } }
    # More than 6 SSH connections within 30 s (the re-runs, Ansible): ufw "limit" would refuse them.
    firewall: { sshRateLimit: false }
    node: { source: upload }
`;
}

async function provision(inventory: string, live: boolean): Promise<{ ms: number; report: HostReport; stderr: string }> {
  let out = '';
  let err = '';
  const t0 = performance.now();
  await provisionMain([NAME, '-i', inventory, '--json'], {
    out: (t) => { out += t; },
    err: (t) => { err += `${t}\n`; if (live) log(t); },
  });
  const ms = performance.now() - t0;
  const report = (JSON.parse(out) as { hosts: HostReport[] }).hosts[0] as HostReport;
  if (report.status === 'failed') throw new Error(`provision failed: ${report.error ?? ''}\n${err}`);
  return { ms, report, stderr: err };
}

// ---- bare apt-get -------------------------------------------------------------------------------------------

async function bareApt(sb: SandboxUpResult, packages: string[]): Promise<number> {
  const apt = 'sudo -n env DEBIAN_FRONTEND=noninteractive apt-get -q -y';
  const t0 = performance.now();
  const r = await runInGuest(sb, `${apt} update && ${apt} install --no-install-recommends ${packages.join(' ')}`);
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`bare apt-get failed (${r.code}): ${r.stderr.slice(-800)}`);
  return ms;
}

// ---- Ansible ------------------------------------------------------------------------------------------------

function ensureAnsible(): void {
  if (spawnSync('sh', ['-c', 'command -v ansible-playbook'], { stdio: 'ignore' }).status !== 0) {
    log('ansible-playbook not found: apt-get install -y --no-install-recommends ansible (Debian\'s package)');
    const r = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'ansible'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new Error('could not install Debian\'s ansible package');
  }
  if (spawnSync('ansible-doc', ['-t', 'module', 'community.general.ufw'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('community.general.ufw is not available: the playbook needs Debian\'s ansible package (collections), not only ansible-core');
  }
}

/** Parses one `ufw ...` argv from renderHost into community.general.ufw parameters. */
function ufwTask(argv: string[]): { kind: 'default'; policy: string; direction: string } | { kind: 'rule'; [k: string]: string } {
  const [, verb, ...rest] = argv;
  if (verb === 'default') return { kind: 'default', policy: rest[0] ?? '', direction: rest[1] ?? '' };
  const rule: Record<string, string> = { kind: 'rule', rule: verb ?? '' };
  const names: Record<string, string> = { proto: 'proto', from: 'from_ip', to: 'to_ip', port: 'to_port', comment: 'comment' };
  for (let i = 0; i < rest.length; i += 2) {
    const name = names[rest[i] ?? ''];
    if (name === undefined) throw new Error(`no community.general.ufw mapping for: ${argv.join(' ')}`);
    rule[name] = rest[i + 1] ?? '';
  }
  return rule as { kind: 'rule' };
}

/** The playbook's vars, from the same sources the provision steps use. */
async function ansibleVars(host: ResolvedHost, inventory: string, out: string): Promise<object> {
  const secrets = resolveSecrets(host, inventory);
  const rendered = renderHost(host, secrets, { inventoryName: inventory });
  const ctx: StepContext = { host, secrets, rendered, prepared: new Map() };
  const filesDir = join(out, 'files');
  mkdirSync(filesDir, { mode: 0o700 });
  const copies = rendered.files.map((f) => {
    const src = join(filesDir, f.id);
    writeFileSync(src, f.content, { mode: 0o600 });
    return { id: f.id, src, dest: f.path, mode: f.mode, owner: f.owner, group: f.group };
  });
  const sshd = copies.find((c) => c.id === 'sshd-hardening');
  const userFacts = appUserStep.facts(ctx);
  const appLogs = [host.app.outLog, host.app.errorLog];
  const runtime = runtimeStep.facts(ctx).probes ?? {};
  const tls = tlsStep.facts(ctx).probes ?? {};
  const settings = pm2LogrotateSettings(host);
  const bundle = await daemonBundle();
  const ufw = rendered.ufw.map(ufwTask);
  const probe = (keys: string[], from: Record<string, string>) => keys.map((k) => `printf '%s\\n' "$( ( ${from[k]} ) 2>/dev/null )"`).join('\n');
  const runtimeKeys = ['runtime.node', 'runtime.pm2', 'runtime.logrotate', 'runtime.logrotateConf', 'runtime.logrotateOnline'];
  return {
    packages: packagesFor(host),
    app_user: host.app.user,
    app_dirs: userFacts.dirs,
    app_logs: appLogs,
    nginx_logs: (userFacts.files ?? []).filter((f) => !appLogs.includes(f)),
    runtime_probe: probe(runtimeKeys, runtime),
    runtime_expected: [
      `v${host.node.version}`,
      `/opt/rtcops/pm2/${host.node.pm2Version}/node_modules/pm2/bin/pm2`,
      host.node.pm2LogrotateVersion,
      JSON.stringify(Object.fromEntries(Object.keys(settings).sort().map((k) => [k, settings[k]]))),
      'yes',
    ].join('\n'),
    config_files: copies.filter((c) => c !== sshd),
    nginx_site: { src: `/etc/nginx/sites-available/${host.app.name}.conf`, dest: `/etc/nginx/sites-enabled/${host.app.name}.conf` },
    sshd_dropin: sshd,
    ufw_defaults: ufw.filter((u) => u.kind === 'default'),
    ufw_rules: ufw.filter((u) => u.kind === 'rule'),
    services: [...new Set(STEPS.flatMap((st) => st.facts(ctx).services ?? []))],
    acme_ca: { src: host.acme.caBundle, dest: ACME_CA_PATH },
    certbot_dropin: { dest: '/etc/systemd/system/certbot.service.d/rtcops-acme-ca.conf', content: `[Service]\nEnvironment=REQUESTS_CA_BUNDLE=${ACME_CA_PATH}\n` },
    tls_names_probe: tls['tls.names'],
    tls_names_expected: [...host.tls.names].sort().join(' '),
    daemon_bundle: { src: bundle.file, dest: `${host.app.daemonDir}/dist/daemon/main.js` },
  };
}

function ansibleInventory(sb: SandboxUpResult): string {
  return JSON.stringify({
    all: {
      hosts: {
        [NAME]: {
          ansible_host: sb.address,
          ansible_user: sb.user,
          ansible_ssh_private_key_file: sb.keyPath,
          // Added to Ansible's default ssh_args (-C -o ControlMaster=auto -o ControlPersist=60s), which stay as they are.
          ansible_ssh_common_args: `-o UserKnownHostsFile=${sb.knownHostsPath} -o StrictHostKeyChecking=yes`,
          ansible_python_interpreter: '/usr/bin/python3',
        },
      },
    },
  });
}

interface AnsibleRun { ms: number; code: number | null; recap: string; changed: number; failed: number; output: string }

function ansiblePlaybook(args: string[], extraEnv: Record<string, string> = {}): Promise<AnsibleRun> {
  const t0 = performance.now();
  // No ansible.cfg (none in /etc/ansible, ~ or here): Ansible's defaults but pipelining, which an Ansible user turns on for speed.
  const child = spawn('ansible-playbook', args, {
    env: { ...process.env, ANSIBLE_PIPELINING: 'True', ANSIBLE_NOCOLOR: '1', ANSIBLE_HOST_KEY_CHECKING: 'True', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  return new Promise((resolveRun, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - t0;
      const recap = new RegExp(`^${NAME}\\s*:.*$`, 'm').exec(output)?.[0] ?? '';
      const num = (k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(recap)?.[1] ?? NaN);
      resolveRun({ ms, code, recap: recap.replace(/\s+/g, ' '), changed: num('changed'), failed: num('failed') + num('unreachable'), output });
    });
  });
}

// ---- the run ------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  process.env['BENCH_JWT_SECRET'] = randomBytes(32).toString('hex');
  process.env['BENCH_ADMIN_TOKEN'] = randomBytes(32).toString('hex');
  process.env['BENCH_TURN_SECRET'] = randomBytes(32).toString('hex');
  ensureAnsible();
  const tStart = performance.now();
  const loadStart = loadavg()[0] ?? NaN;

  // 0. warm-up: fill the apt cache with everything both timed cold runs fetch.
  let sb = await freshSandbox();
  const inventory = join(dir, 'inventory.yaml');
  acme = await startPebble(sb.hostAddress, sb.address);
  writeFileSync(inventory, inventoryYaml(sb, acme));
  const host = loadInventory(inventory).hosts[NAME] as ResolvedHost;
  const packages = packagesFor(host);
  log(`warm-up: bare apt-get install of ${packages.length} packages on a fresh sandbox (fills the apt cache)`);
  const warmUpMs = await bareApt(sb, packages);
  await acme.stop();
  acme = undefined;

  // 1a. cold provision on a fresh sandbox
  sb = await freshSandbox();
  acme = await startPebble(sb.hostAddress, sb.address);
  writeFileSync(inventory, inventoryYaml(sb, acme));
  log('cold run: provision on a fresh sandbox');
  const cold = await provision(inventory, true);

  // 2. no-change re-runs
  const rtcopsRuns: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await provision(inventory, false);
    if (r.report.status !== 'ok') throw new Error(`re-run ${i + 1} changed something: ${JSON.stringify(r.report.steps.filter((x) => x.changes.length > 0))}`);
    rtcopsRuns.push(r.ms);
    log(`no-change re-run ${i + 1}/${RUNS}: ${s(r.ms)}`);
  }

  // 3. Ansible, same host, same state
  const aDir = join(dir, 'ansible');
  mkdirSync(aDir);
  writeFileSync(join(aDir, 'inventory.json'), ansibleInventory(sb));
  writeFileSync(join(aDir, 'vars.json'), JSON.stringify(await ansibleVars(loadInventory(inventory).hosts[NAME] as ResolvedHost, inventory, aDir)), { mode: 0o600 });
  log('ansible: python3-apt in the guest (what ansible.builtin.apt needs; rtcops does not)');
  const pyApt = await runInGuest(sb, 'sudo -n env DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends python3-apt');
  if (pyApt.code !== 0) throw new Error(`python3-apt: ${pyApt.stderr}`);
  const playbookArgs = ['-i', join(aDir, 'inventory.json'), PLAYBOOK, '-e', `@${join(aDir, 'vars.json')}`];
  const startup = await ansiblePlaybook(['--version']);
  // The verification run (not timed) also reports where Ansible spends its time.
  const verify = await ansiblePlaybook(playbookArgs, { ANSIBLE_CALLBACKS_ENABLED: 'ansible.posix.profile_tasks' });
  const slowest = [...verify.output.matchAll(/^(.+?) -{3,} (\d+\.\d+)s$/gm)]
    .map((m) => ({ task: (m[1] ?? '').trim(), sec: Number(m[2]) })).sort((a, b) => b.sec - a.sec).slice(0, 4);
  log(`ansible verification run: ${verify.recap} (${s(verify.ms)})`);
  if (verify.code !== 0 || verify.changed !== 0 || verify.failed !== 0) {
    console.error(verify.output.split('\n').filter((l) => /^(changed|fatal|failed)|TASK \[/.test(l)).join('\n'));
    process.exitCode = 1;
  }
  const ansibleRuns: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await ansiblePlaybook(playbookArgs);
    if (r.code !== 0 || r.changed !== 0) { log(`ansible run ${i + 1}: ${r.recap}`); process.exitCode = 1; }
    ansibleRuns.push(r.ms);
    log(`ansible run ${i + 1}/${RUNS}: ${s(r.ms)}`);
  }
  await acme.stop();
  acme = undefined;

  // 1b. bare apt on another fresh sandbox, from the warm cache
  sb = await freshSandbox();
  log('bare apt-get install on a fresh sandbox');
  const bareMs = await bareApt(sb, packages);
  await sandboxDown({ name: NAME });
  sandboxMayRun = false;

  const rt = sorted(rtcopsRuns);
  const an = sorted(ansibleRuns);
  const pkgStep = cold.report.steps.find((x) => x.step === 'packages');
  const tasks = Number(/ok=(\d+)/.exec(verify.recap)?.[1] ?? NaN);
  console.log(`provision: sandbox "${NAME}" (systemd-nspawn guest on this machine, shares its cores), ${RUNS} runs each`);
  console.log('  1. cold run (fresh sandbox, apt cache warmed first)');
  console.log(`    rtcops provision            ${s(cold.ms)}   (${cold.report.steps.map((x) => `${x.step} ${(x.ms / 1000).toFixed(1)}`).join(', ')})`);
  console.log(`      packages step: ${pkgStep?.changes.join('; ')}`);
  console.log(`    bare apt-get update+install ${s(bareMs)}   (${packages.length} packages; warm-up run before both: ${s(warmUpMs)})`);
  console.log(`    ratio provision/bare apt: ${(cold.ms / bareMs).toFixed(2)}x   (goal <= 1.2x; provision also does users, Node.js/PM2 upload, config, firewall, certificate, daemon)`);
  console.log(`    ratio packages step alone/bare apt: ${((pkgStep?.ms ?? NaN) / bareMs).toFixed(2)}x`);
  console.log('  2. no-change re-run (rtcops, in-process provisionMain: inventory, render, one SSH connection, facts, plan, audit line)');
  console.log(`    median ${s(percentile(rt, 50))}  p90 ${s(percentile(rt, 90))}   runs: ${rtcopsRuns.map((x) => (x / 1000).toFixed(2)).join(' ')}   (goal <= 3 s)`);
  console.log(`  3. the same checks with ansible-playbook ${/core [\d.]+/.exec(startup.output)?.[0] ?? ''} (bench/ansible/provision-equivalent.yml, ${tasks} task results, gather_facts off)`);
  console.log(`    verification run: ${verify.recap}`);
  console.log(`    slowest tasks (verification run): ${slowest.map((x) => `${x.task} ${x.sec.toFixed(1)} s`).join(', ')}`);
  console.log('    ssh: Ansible defaults (ControlMaster=auto, ControlPersist=60s: the timed runs reuse the verification run\'s connection) + pipelining on');
  console.log(`    median ${s(percentile(an, 50))}  p90 ${s(percentile(an, 90))}   runs: ${ansibleRuns.map((x) => (x / 1000).toFixed(2)).join(' ')}   (process; \`ansible-playbook --version\` alone: ${s(startup.ms)})`);
  console.log(`    ratio ansible/rtcops median: ${(percentile(an, 50) / percentile(rt, 50)).toFixed(1)}x   (goal >= 10x)`);
  console.log(`  bench wall time ${s(performance.now() - tStart)}; 1-min load average ${loadStart.toFixed(2)} at start, ${(loadavg()[0] ?? NaN).toFixed(2)} at end (${cpus().length} cores)`);
}

const running = await sandboxStatus({ name: NAME });
if (running.running) {
  log(`a sandbox named ${NAME} is already running (another bench run?): pass --name <another name>, or take it down with: npx zx scripts/sandbox.mjs down --name ${NAME}`);
  rmSync(dir, { recursive: true, force: true });
  process.exit(2);
}
try {
  await main();
} catch (error) {
  log(`FAILED: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
