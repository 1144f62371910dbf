import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { layoutOf, NGINX_DEFAULT_SITE } from '../../../lib/host/index.js';
import { parseFacts } from '../../../lib/provision/facts.js';
import { sha256 } from '../../../lib/provision/managed-files.js';
import { configFilesStep } from '../../../lib/provision/steps/config-files.js';
import { sshdStep } from '../../../lib/provision/steps/sshd.js';
import type { StepContext } from '../../../lib/provision/step.js';
import { renderHost } from '../../../lib/render/files.js';
import { exampleHost, fakeSecrets } from '../../fixtures/inventories/hosts.js';

const host = exampleHost('sandbox');
const secrets = fakeSecrets(host);
const rendered = renderHost(host, secrets);
const ctx: StepContext = { host, secrets, rendered, prepared: new Map() };
const layout = layoutOf(host);
const byId = (id: string) => rendered.files.find((f) => f.id === id)!;

/** Facts: these rendered files on the host as rendered (the rest absent), plus the enabled site and the stock default. */
function facts(inPlace: string[], o: { cert?: boolean; enabled?: string; stockDefault?: boolean; upstream?: boolean } = {}) {
  const rows = ['@@rtcops@@ os', 'debian', '12', 'kvm'];
  if (o.upstream !== false) rows.push(`@@rtcops@@ file ${host.nginx.upstreamFile}`, 'stat 644 root root', 'bb');
  for (const f of rendered.files.filter((x) => inPlace.includes(x.id))) rows.push(`@@rtcops@@ file ${f.path}`, `stat ${f.mode.replace(/^0/, '')} ${f.owner} ${f.group}`, sha256(f.content));
  if (o.cert === true) rows.push(`@@rtcops@@ file ${host.tls.fullchain}`, 'stat 644 root root', 'aa');
  if (o.enabled !== undefined) rows.push(`@@rtcops@@ file ${layout.nginxEnabledSite}`, `link ${o.enabled}`);
  if (o.stockDefault === true) rows.push(`@@rtcops@@ file ${NGINX_DEFAULT_SITE}`, 'link /etc/nginx/sites-available/default');
  return parseFacts(`${rows.join('\n')}\n`, '10.0.0.1');
}
const configIds = rendered.files.filter((f) => f.installedBy === 'config').map((f) => f.id);
const everything = rendered.files.map((f) => f.id);

describe('one table per rendered file: the config step and the sshd step read their rows', () => {
  test('every file is installed by exactly one step; sshd\'s by the guarded sshd step', () => {
    assert.deepEqual(rendered.files.filter((f) => f.installedBy === 'sshd').map((f) => f.id), ['sshd-hardening']);
    assert.equal(configIds.length + 1, rendered.files.length);
  });

  test('fail2ban\'s filter is installed before the jail that fail2ban-client -t checks with it', () => {
    assert.ok(configIds.indexOf('fail2ban-filter-signaling-auth') < configIds.indexOf('fail2ban-jail'));
  });

  // [case, files in place, options, the actions' summaries]
  const cases: [string, string[], Parameters<typeof facts>[1], string[]][] = [
    ['a fresh host: nginx\'s upstream (slot a), every file in table order, then the first-boot site enabled', [], { upstream: false },
      [`create ${host.nginx.upstreamFile} (nginx → deploy slot a)`, ...rendered.files.filter((f) => f.installedBy === 'config').map((f) => `create ${f.path}`), `enable nginx site ${layout.nginxFirstBootSite}`]],
    ['all in place, certificate there, TLS site enabled: nothing', everything, { cert: true, enabled: layout.nginxSite }, []],
    ['all in place but the stock default site is enabled: it goes', everything, { cert: true, enabled: layout.nginxSite, stockDefault: true }, ['disable the stock nginx default site']],
    ['the certificate is there but the first-boot site still serves: switch to the TLS site', everything, { cert: true, enabled: layout.nginxFirstBootSite }, [`enable nginx site ${layout.nginxSite}`]],
    ['one file differs: only it', everything.filter((id) => id !== 'turnserver'), { cert: true, enabled: layout.nginxSite }, ['create /etc/turnserver.conf']],
  ];
  cases.push(['a deploy switched nginx to slot b (the upstream file differs from slot a\'s): a re-run leaves it', everything, { cert: true, enabled: layout.nginxSite }, []]);
  for (const [name, inPlace, o, want] of cases) test(name, () => assert.deepEqual(configFilesStep.plan(ctx, facts(inPlace, o)).map((a) => a.summary), want));

  // [file, what the host runs to check it, handlers after it changed]: straight from the file's row.
  const rows: [string, string | undefined, string[] | undefined][] = [
    ['nginx-site', 'nginx -t -q', ['reload nginx']],
    ['turnserver', undefined, ['restart coturn']],
    ['fail2ban-jail', 'fail2ban-client -t', ['restart fail2ban']],
    ['health-daemon-unit', undefined, ['systemd daemon-reload', 'restart health daemon']],
    ['health-daemon-config', byId('health-daemon-config').validate, ['restart health daemon']],
  ];
  for (const [id, validate, notify] of rows) {
    test(`${id}: a change validates with ${validate ?? 'nothing'} and notifies ${notify?.join(', ') ?? 'nothing'}`, () => {
      const a = configFilesStep.plan(ctx, facts(everything.filter((x) => x !== id), { cert: true, enabled: layout.nginxSite }))[0];
      assert.ok(a?.kind === 'file');
      assert.deepEqual([a.path, a.validate, a.notify], [byId(id).path, validate, notify]);
    });
  }

  test('the sshd step takes sshd\'s row: validated with sshd -t, ssh reloaded', () => {
    const a = sshdStep.plan(ctx, facts(everything.filter((x) => x !== 'sshd-hardening'))).find((x) => x.kind === 'file');
    assert.ok(a?.kind === 'file');
    assert.deepEqual([a.path, a.validate, a.notify], [byId('sshd-hardening').path, 'sshd -t', ['reload ssh']]);
  });
});
