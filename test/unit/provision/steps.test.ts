import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { layoutOf, OPT_DIR } from '../../../lib/host/index.js';
import { parseFacts } from '../../../lib/provision/facts.js';
import type { StepContext } from '../../../lib/provision/step.js';
import { appUserStep } from '../../../lib/provision/steps/app-user.js';
import { daemonStep } from '../../../lib/provision/steps/daemon.js';
import { packagesStep, requirements } from '../../../lib/provision/steps/packages.js';
import { runtimeStep } from '../../../lib/provision/steps/runtime.js';
import { tlsStep } from '../../../lib/provision/steps/tls.js';
import { pm2LogrotateSettings } from '../../../lib/render/server-env.js';
import { renderHost } from '../../../lib/render/files.js';
import type { ResolvedHost } from '../../../lib/inventory/index.js';
import { exampleHost, fakeSecrets } from '../../fixtures/inventories/hosts.js';

/** Facts as the facts script prints them: packages installed, files (their stat line), users, services, probes. */
interface F {
  packages?: string[];
  files?: Record<string, string>;
  users?: string[];
  services?: Record<string, [active: string, enabled: string]>;
  probes?: Record<string, string>;
}
function facts(f: F) {
  const rows = ['@@rtcops@@ os', 'debian', '12', 'kvm', '@@rtcops@@ packages', ...(f.packages ?? [])];
  for (const [path, stat] of Object.entries(f.files ?? {})) rows.push(`@@rtcops@@ file ${path}`, stat);
  for (const u of f.users ?? []) rows.push(`@@rtcops@@ user ${u}`, 'yes');
  for (const [s, [active, enabled]] of Object.entries(f.services ?? {})) rows.push(`@@rtcops@@ service ${s}`, active, enabled);
  for (const [k, v] of Object.entries(f.probes ?? {})) rows.push(`@@rtcops@@ probe ${k}`, v);
  return parseFacts(`${rows.join('\n')}\n`, '10.0.0.1');
}
const ctxOf = (host: ResolvedHost): StepContext => ({ host, secrets: fakeSecrets(host), rendered: renderHost(host, fakeSecrets(host)), prepared: new Map() });
const summaries = (actions: { summary: string }[]) => actions.map((a) => a.summary);

describe('packages: what is missing, and upgrades on fresh lists', () => {
  const all = requirements().map((alternatives) => alternatives[0]!);
  const fresh = { 'apt.listsAge': '600', 'apt.upgradable': '0' };
  const cases: [string, F, string[]][] = [
    ['everything installed, lists fresh, nothing upgradable: nothing', { packages: all, probes: fresh }, []],
    ['one alternative of a choice is enough (chrony for the clock)', { packages: [...all.filter((p) => p !== 'systemd-timesyncd'), 'chrony'], probes: fresh }, []],
    ['a missing package is installed, alone', { packages: all.filter((p) => p !== 'jq'), probes: fresh }, ['install jq']],
    ['a missing choice names its alternatives', { packages: all.filter((p) => p !== 'libuv1t64'), probes: fresh }, ['install libuv1t64|libuv1']],
    ['upgradable packages: upgraded', { packages: all, probes: { ...fresh, 'apt.upgradable': '3' } }, ['security and point-release upgrades']],
    ['lists a day old: refreshed and upgraded', { packages: all, probes: { 'apt.listsAge': String(25 * 3600), 'apt.upgradable': '0' } }, ['security and point-release upgrades']],
    ['a fresh VM (no lists)', { packages: [], probes: {} }, [`install ${requirements().map((a) => a.join('|')).join(' ')}`, 'security and point-release upgrades']],
  ];
  for (const [name, f, want] of cases) test(name, () => assert.deepEqual(summaries(packagesStep.plan(undefined as never, facts(f))), want));
});

describe('app-user: the user, its directories and log files', () => {
  const host = exampleHost('sandbox');
  const ctx = ctxOf(host);
  const u = host.app.user;
  const dirs = [host.app.root, host.app.releasesDir, host.app.sharedDir, host.app.logDir];
  const nginxLogs = [`${host.nginx.logDir}/${host.app.name}.access.log`, `${host.nginx.logDir}/${host.app.name}.error.log`];
  const good: F = {
    users: [u],
    files: {
      ...Object.fromEntries(dirs.map((d) => [d, `stat 750 ${u} ${u}`])),
      [host.app.outLog]: `stat 640 ${u} ${u}`, [host.app.errorLog]: `stat 640 ${u} ${u}`,
      ...Object.fromEntries(nginxLogs.map((l) => [l, 'stat 640 www-data adm'])),
    },
  };
  const cases: [string, F, string[]][] = [
    ['all in place: nothing', good, []],
    ['a directory with the wrong mode: only it', { ...good, files: { ...good.files, [host.app.releasesDir]: `stat 755 ${u} ${u}` } }, [`directories ${host.app.releasesDir}`]],
    ['a log file owned by root: fixed', { ...good, files: { ...good.files, [host.app.outLog]: 'stat 640 root root' } }, [`log files ${host.app.outLog}`]],
    ['nginx has not served yet: its logs are created for the jails', { ...good, files: Object.fromEntries(Object.entries(good.files!).filter(([p]) => !nginxLogs.includes(p))) }, [`log files ${nginxLogs.join(' ')}`]],
    ['no user yet: created first', { ...good, users: [] }, [`create user ${u}`]],
  ];
  for (const [name, f, want] of cases) test(name, () => assert.deepEqual(summaries(appUserStep.plan(ctx, facts(f))), want));
  test('the user is created with the layout\'s home', () => {
    const [a] = appUserStep.plan(ctx, facts({ ...good, users: [] }));
    assert.ok(a?.kind === 'run' && a.script.includes(`--home-dir ${layoutOf(host).home} `));
  });
});

describe('runtime: Node.js, PM2, pm2 startup and pm2-logrotate', () => {
  const host = exampleHost('sandbox');
  const n = host.node;
  const { pm2Unit } = layoutOf(host);
  const pm2Entry = `${OPT_DIR}/pm2/${n.pm2Version}/node_modules/pm2/bin/pm2`;
  const s = pm2LogrotateSettings(host);
  const conf = JSON.stringify(Object.fromEntries(Object.keys(s).sort().map((k) => [k, s[k]])));
  const good: F = {
    files: { [`/etc/systemd/system/${pm2Unit}.service`]: 'stat 644 root root' },
    services: { [pm2Unit]: ['active', 'enabled'] },
    probes: { 'runtime.arch': 'x86_64', 'runtime.node': `v${n.version}`, 'runtime.pm2': pm2Entry, 'runtime.logrotate': n.pm2LogrotateVersion, 'runtime.logrotateOnline': 'yes', 'runtime.logrotateConf': conf },
  };
  const cases: [string, F, string[]][] = [
    ['all in place: nothing', good, []],
    ['another Node.js: replaced (upload, the sandbox\'s node.source)', { ...good, probes: { ...good.probes, 'runtime.node': 'v20.0.0' } }, [`replace v20.0.0 with Node.js ${n.version} (official binaries, uploaded)`]],
    ['another PM2: installed', { ...good, probes: { ...good.probes, 'runtime.pm2': `${OPT_DIR}/pm2/5.0.0/node_modules/pm2/bin/pm2` } }, [`install PM2 ${n.pm2Version}`]],
    ['PM2\'s unit stopped: started', { ...good, services: { [pm2Unit]: ['inactive', 'enabled'] } }, [`enable and start ${pm2Unit}`]],
    ['no PM2 unit yet: pm2 startup', { ...good, files: {} }, [`pm2 startup: ${pm2Unit}.service runs PM2 for ${host.app.user} at boot`]],
    ['pm2-logrotate not running: installed again', { ...good, probes: { ...good.probes, 'runtime.logrotateOnline': '' } }, [`install pm2-logrotate ${n.pm2LogrotateVersion}`]],
    ['pm2-logrotate settings differ: set', { ...good, probes: { ...good.probes, 'runtime.logrotateConf': '{}' } }, [`pm2-logrotate settings ${conf}`]],
  ];
  for (const [name, f, want] of cases) test(name, () => assert.deepEqual(summaries(runtimeStep.plan(ctxOf(host), facts(f))), want));
  test('pm2 runs as the app user with its PM2_HOME, each argument quoted once', () => {
    const a = runtimeStep.plan(ctxOf(host), facts({ ...good, probes: { ...good.probes, 'runtime.logrotateConf': '{}' } }))[0];
    assert.ok(a?.kind === 'run');
    assert.match(a.script, new RegExp(`^runuser -u ${host.app.user} -- env HOME=/home/${host.app.user} PM2_HOME=/home/${host.app.user}/.pm2 PATH=/usr/local/bin:/usr/bin:/bin /usr/local/bin/pm2 set pm2-logrotate:`, 'm'));
  });
});

describe('tls: a certificate for every name, HTTPS enabled, renewals on (Let\'s Encrypt host)', () => {
  const host = exampleHost('prod');
  const { nginxSite } = layoutOf(host);
  const names = [...host.tls.names].sort().join(' ');
  const good: F = { files: { [host.tls.fullchain]: 'stat 644 root root' }, services: { 'certbot.timer': ['active', 'enabled'] }, probes: { 'tls.names': `${names} ` } };
  const obtain = [`obtain a certificate for ${host.tls.names.join(', ')} from ${host.acme.directoryUrl}`, `serve HTTPS: enable ${nginxSite}`];
  const cases: [string, F, string[]][] = [
    ['a certificate for every name, timer on: nothing', good, []],
    ['no certificate yet: obtained, then HTTPS enabled', { ...good, files: {} }, obtain],
    ['a name was added to the inventory: obtained again (--expand)', { ...good, probes: { 'tls.names': 'old.example.com' } }, obtain],
    ['the renewal timer is off: enabled', { ...good, services: {} }, ['enable the certbot renewal timer']],
  ];
  for (const [name, f, want] of cases) test(name, () => assert.deepEqual(summaries(tlsStep.plan(ctxOf(host), facts(f))), want));
});

describe('daemon: the bundle when it differs, the unit running', () => {
  const host = exampleHost('sandbox');
  const { daemonEntry, daemonUnit } = layoutOf(host);
  const ctx = { ...ctxOf(host), prepared: new Map<string, unknown>([['daemon-bundle', { name: 'daemon-main.js', sha256: 'b'.repeat(64), file: '/dev/null' }]]) };
  const good: F = { files: { [daemonEntry]: `stat 644 root root\n${'b'.repeat(64)}` }, services: { [daemonUnit]: ['active', 'enabled'] } };
  const cases: [string, F, string[]][] = [
    ['the same bundle, running: nothing', good, []],
    ['another bundle: installed (checked with --check-config first)', { ...good, files: { [daemonEntry]: `stat 644 root root\n${'a'.repeat(64)}` } }, ['install the health daemon (daemon-main.js)']],
    ['not running: started', { ...good, services: { [daemonUnit]: ['failed', 'enabled'] } }, [`enable and start ${daemonUnit}`]],
  ];
  for (const [name, f, want] of cases) test(name, () => assert.deepEqual(summaries(daemonStep.plan(ctx, facts(f))), want));
});
