import assert from 'node:assert/strict';
import { upstreamConf } from '../../../lib/deploy/slots.js';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import { Secret, type ResolvedHost } from '../../../lib/inventory/index.js';
import { MANIFEST, renderMain } from '../../../lib/render/command.js';
import { renderHost, type RenderedFile } from '../../../lib/render/files.js';
import { everyInterval } from '../../../lib/render/server-env.js';
import { EXAMPLE_INVENTORY, exampleHost, FAKE_SECRET_ENV, fakeSandboxHome, fakeSecrets } from '../../fixtures/inventories/hosts.js';

const SECRET_VALUES = Object.values(FAKE_SECRET_ENV);

function render(host: ResolvedHost): RenderedFile[] {
  return renderHost(host, fakeSecrets(host)).files;
}

function content(host: ResolvedHost, id: string): string {
  const file = render(host).find((f) => f.id === id);
  assert.ok(file, id);
  return file.content;
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'rtcops-render-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('rendered files: what lands where', () => {
  const files = render(exampleHost('sandbox'));

  test('secret-bearing files are exactly the ones holding secret values (or a bcrypt hash of one)', () => {
    assert.deepEqual(files.filter((f) => f.secret).map((f) => f.path), ['/etc/turnserver.conf', '/srv/rtcops/shared/rtcops.env', '/srv/rtcops/shared/rtcops-daemon.env', '/etc/prometheus/rtcops-node-exporter-web.yml']);
    for (const f of files) {
      const holdsSecret = SECRET_VALUES.some((v) => f.content.includes(v)) || /\$2b\$\d\d\$/.test(f.content);
      assert.equal(holdsSecret, f.secret, `${f.path} secret=${f.secret} but holds a secret value: ${holdsSecret}`);
    }
  });

  test('secret-bearing files are never world-readable on the host', () => {
    for (const f of files.filter((x) => x.secret)) assert.equal(Number.parseInt(f.mode, 8) & 0o007, 0, f.path);
  });

  test('every file names its host paths once and says it is generated', () => {
    assert.equal(new Set(files.map((f) => f.path)).size, files.length);
    for (const f of files.filter((x) => !x.path.endsWith('.json') && !x.id.startsWith('fail2ban-filter'))) assert.match(f.content, /Rendered by rtcops from inventory\.yaml for host sandbox\./, f.path);
  });
});

describe('rotations and maintenance from the inventory', () => {
  const OLD = 'the-old-secret-value-0123456789abcdef0123';
  const rotating = () => {
    const host = exampleHost('sandbox');
    const secrets = { ...fakeSecrets(host) };
    secrets.turnSecretPrevious = new Secret(OLD);
    secrets.jwtSecretPrevious = new Secret(`${OLD}-jwt`);
    return renderHost(host, secrets).files;
  };
  const file = (files: RenderedFile[], id: string) => files.find((f) => f.id === id)?.content ?? assert.fail(id);

  test('a TURN rotation: coturn accepts both secrets, the new one first; none of it outside secret files', () => {
    const files = rotating();
    const secrets = file(files, 'turnserver').match(/^static-auth-secret=.*$/gm);
    assert.deepEqual(secrets, [`static-auth-secret=${FAKE_SECRET_ENV.RTCOPS_SANDBOX_TURN_SECRET}`, `static-auth-secret=${OLD}`]);
    for (const f of files.filter((x) => !x.secret)) assert.ok(!f.content.includes(OLD), f.path);
  });

  test('without a rotation coturn has exactly one secret and the server no JWT_SECRET_PREVIOUS', () => {
    assert.equal(content(exampleHost('sandbox'), 'turnserver').match(/^static-auth-secret=/gm)?.length, 1);
    assert.doesNotMatch(content(exampleHost('sandbox'), 'server-env'), /JWT_SECRET_PREVIOUS/);
  });

  test('a JWT rotation: the server env carries JWT_SECRET_PREVIOUS', () => {
    assert.match(file(rotating(), 'server-env'), new RegExp(`^JWT_SECRET_PREVIOUS='${OLD}-jwt'$`, 'm'));
  });

  test('maintenance windows and the runbook URL reach the daemon config', () => {
    const host = exampleHost('sandbox');
    host.daemon.maintenance = [{ from: '2026-12-01T02:00:00Z', until: '2026-12-01T03:00:00Z' }, { days: ['sun'], start: '03:00', durationMin: 30, checks: ['disk'] }];
    host.alerts.runbookUrl = 'https://git.example.test/ops/rtcops/blob/main/RUNBOOK.md';
    const cfg = JSON.parse(content(host, 'health-daemon-config')) as { runbookUrl: string; alerting: { maintenance: unknown[] } };
    assert.equal(cfg.runbookUrl, host.alerts.runbookUrl);
    assert.deepEqual(cfg.alerting.maintenance, host.daemon.maintenance);
  });

  test('a heartbeat: its schedule follows daemon.intervalSec, its URL only in the daemon\'s EnvironmentFile', () => {
    const host = exampleHost('sandbox');
    host.alerts = { ...host.alerts, heartbeat: { method: 'GET' } };
    const url = 'https://hc-ping.example.test/0f1e2d3c-not-a-real-check';
    const files = renderHost(host, { ...fakeSecrets(host), heartbeatUrl: new Secret(url) }).files;
    const cfg = files.find((f) => f.id === 'health-daemon-config')?.content ?? '';
    assert.deepEqual((JSON.parse(cfg) as { alerting: { heartbeat: unknown } }).alerting.heartbeat, { schedule: everyInterval(host.daemon.intervalSec, 55), method: 'GET' });
    assert.doesNotMatch(cfg, /hc-ping/);
    assert.match(files.find((f) => f.id === 'health-daemon-env')?.content ?? '', /^HEARTBEAT_URL='https:\/\/hc-ping.example.test\/0f1e2d3c-not-a-real-check'$/m);
  });

  test('a generic webhook over plain http to a private network, behind a CA: all explicit, all reach the daemon', (t) => {
    const dir = tempDir(t);
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const host = exampleHost('sandbox');
    host.alerts = { ...host.alerts, webhook: true, plainHttpTo: ['10.77.0.0/24'], caFile: ca };
    const secrets = { ...fakeSecrets(host), webhookUrl: new Secret('http://10.77.0.1:8080/hook'), webhookToken: new Secret('test-webhook-token-not-real') };
    const files = renderHost(host, secrets).files;
    const cfg = JSON.parse(files.find((f) => f.id === 'health-daemon-config')?.content ?? '{}') as { alerting: Record<string, unknown> };
    assert.deepEqual([cfg.alerting['webhook'], cfg.alerting['plainHttpTo'], cfg.alerting['caFile']], [true, ['10.77.0.0/24'], '/etc/rtcops/alerts-ca.pem']);
    const env = files.find((f) => f.id === 'health-daemon-env')?.content ?? '';
    assert.match(env, /^ALERT_WEBHOOK_URL='http:\/\/10.77.0.1:8080\/hook'$/m);
    assert.match(env, /^ALERT_WEBHOOK_TOKEN='test-webhook-token-not-real'$/m);
    const installed = files.map((f) => f.id);
    assert.ok(installed.indexOf('health-daemon-alerts-ca') >= 0 && installed.indexOf('health-daemon-alerts-ca') < installed.indexOf('health-daemon-config'), 'the CA lands before the config that names it');
    assert.equal(files.find((f) => f.id === 'health-daemon-alerts-ca')?.content, readFileSync(ca, 'utf8'));
  });
});

describe('nginx site', () => {
  test('HSTS is sent only when the inventory turns it on', () => {
    const host = exampleHost('sandbox');
    assert.doesNotMatch(content(host, 'nginx-site'), /Strict-Transport-Security/);
    host.nginx.hsts = true;
    assert.match(content(host, 'nginx-site'), /add_header Strict-Transport-Security "max-age=31536000" always;/);
  });

  test('the first-boot variant serves ACME on port 80 and has no TLS server', () => {
    const site = content(exampleHost('sandbox'), 'nginx-site-first-boot');
    assert.match(site, /location \^~ \/\.well-known\/acme-challenge\/ \{\n\s+root \/var\/www\/rtcops-acme;/);
    assert.doesNotMatch(site, /listen 443|ssl_certificate|proxy_pass/);
  });

  test('TLS 1.2/1.3 only, and no HTTP/2 on the WebSocket listener', () => {
    const site = content(exampleHost('sandbox'), 'nginx-site');
    assert.match(site, /^\s+ssl_protocols TLSv1\.2 TLSv1\.3;$/m);
    assert.doesNotMatch(site, /http2/);
  });

  test('every location proxies to the live deploy slot, the upstream the deploy\'s include file names', () => {
    const host = exampleHost('sandbox');
    const site = content(host, 'nginx-site');
    const upstreams = [...site.matchAll(/proxy_pass (\S+);/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(upstreams)], ['http://rtcops_live']);
    assert.match(site, /^include \/etc\/nginx\/rtcops-upstream\.conf;$/m);
    assert.match(upstreamConf(host, host.app.slots.b), /^upstream rtcops_live \{\n {4}server 127\.0\.0\.1:3001;\n\}$/m);
    assert.equal(upstreams.length, 7, "signaling, turn-credentials, the connection test page and its script, healthz, status, metrics");
  });
});

describe('turnserver.conf', () => {
  test('relays to the server itself but never to private, metadata or loopback ranges', () => {
    const conf = content(exampleHost('prod'), 'turnserver');
    for (const range of ['10.0.0.0-10.255.255.255', '127.0.0.0-127.255.255.255', '169.254.0.0-169.254.255.255', '100.64.0.0-100.127.255.255', '192.168.0.0-192.168.255.255', '::1']) {
      assert.ok(conf.includes(`\ndenied-peer-ip=${range}\n`), range);
    }
    assert.match(conf, /^allowed-peer-ip=198\.51\.100\.10$/m);
    assert.doesNotMatch(conf, /allow-loopback-peers/);
  });

  test('UDP relays only: no TCP allocations (RFC 6062), which would reach the host\'s own TCP ports', () => {
    assert.match(content(exampleHost('prod'), 'turnserver'), /^no-tcp-relay$/m);
  });

  test('behind NAT it advertises public/private', () => {
    const host = exampleHost('prod');
    host.turn.relayIp = '10.0.0.5';
    assert.match(content(host, 'turnserver'), /^relay-ip=10\.0\.0\.5\nexternal-ip=198\.51\.100\.10\/10\.0\.0\.5$/m);
  });
});

describe('fail2ban and sshd follow the host OS and SSH user', () => {
  const cases: [name: string, edit: (h: ResolvedHost) => void, id: string, pattern: RegExp][] = [
    ['Debian: sshd jail on the journal, with the distribution\'s journal match', () => {}, 'fail2ban-jail', /\[sshd\]\nenabled = true\nport = 22\n(# .*\n)+backend = systemd\n\n/],
    ['Ubuntu: sshd jail on auth.log', (h) => Object.assign(h.fail2ban, { sshdBackend: 'auth.log' }), 'fail2ban-jail', /\[sshd\][^[]*backend = auto\nlogpath = \/var\/log\/auth\.log\n/],
    ['Debian: unattended-upgrades takes the Debian-Security origins', () => {}, 'unattended-upgrades', /Origins-Pattern \{\n\s+"origin=Debian,codename=\$\{distro_codename\},label=Debian-Security";/],
    ['Ubuntu: unattended-upgrades takes -security and ESM', (h) => Object.assign(h, { osFamily: 'ubuntu' }), 'unattended-upgrades', /Allowed-Origins \{\n\s+"\$\{distro_id\}:\$\{distro_codename\}-security";\n\s+"\$\{distro_id\}ESMApps/],
    ['admin networks are never banned', () => {}, 'fail2ban-jail', /^ignoreip = 127\.0\.0\.1\/8 ::1 10\.77\.0\.1\/32$/m],
    ['non-root deploy user: no root login', () => {}, 'sshd-hardening', /^PermitRootLogin no$/m],
    ['root deploy user: key-only root login', (h) => Object.assign(h.sshd, { permitRootLogin: 'prohibit-password', allowUsers: ['root'] }), 'sshd-hardening', /^PermitRootLogin prohibit-password\n[\s\S]*^AllowUsers root$/m],
  ];
  for (const [name, edit, id, pattern] of cases) {
    test(name, () => {
      const host = exampleHost('sandbox');
      edit(host);
      assert.match(content(host, id), pattern);
    });
  }
});

describe('scripts/render.mjs (renderMain)', () => {
  // The example's sandbox reads ~/.cache/rtcops/sandbox/secrets.yaml: a temporary home holds a fake one.
  const home = fakeSandboxHome();
  after(() => rmSync(home, { recursive: true, force: true }));

  async function cli(args: string[], env: Record<string, string | undefined> = { HOME: home }) {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    const out: string[] = [];
    const err: string[] = [];
    try {
      const status = await renderMain(['-i', EXAMPLE_INVENTORY, ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
      return { status, out: out.join('\n'), err: err.join('\n') };
    } finally {
      for (const key of Object.keys(env)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  }

  test('the summary lists every file and marks secret-bearing ones, printing no secret', async () => {
    const { status, out } = await cli(['sandbox']);
    assert.equal(status, 0);
    assert.match(out, /^\/etc\/turnserver\.conf\s+0640\s+root:turnserver\s+turnserver\s+SECRET$/m);
    assert.match(out, /^\/etc\/nginx\/sites-available\/rtcops\.conf\s+0644\s+root:root\s+nginx -t$/m);
    assert.ok(!SECRET_VALUES.some((v) => out.includes(v)));
  });

  test('--json gives the manifest, with no file contents', async () => {
    const { status, out } = await cli(['sandbox', '--json']);
    assert.equal(status, 0);
    const result = JSON.parse(out) as { ok: boolean; files: Record<string, unknown>[]; ufw: string[][] };
    assert.equal(result.ok, true);
    assert.ok(result.files.every((f) => !('content' in f)));
    assert.deepEqual(result.ufw[0], ['ufw', 'default', 'deny', 'incoming']);
    assert.ok(!SECRET_VALUES.some((v) => out.includes(v)));
  });

  test('--out writes files at their host paths; secret-bearing ones 0600', async (t) => {
    const dir = join(tempDir(t), 'out');
    assert.equal((await cli(['sandbox', '--out', dir])).status, 0);
    const mode = (p: string) => (statSync(join(dir, p)).mode & 0o777).toString(8);
    assert.equal(mode('etc/turnserver.conf'), '600');
    assert.equal(mode('srv/rtcops/shared/rtcops.env'), '600');
    assert.equal(mode('etc/letsencrypt/renewal-hooks/deploy/rtcops.sh'), '755');
    assert.equal(mode('etc/nginx/sites-available/rtcops.conf'), '644');
    assert.ok(!SECRET_VALUES.some((v) => readFileSync(join(dir, MANIFEST), 'utf8').includes(v)));
  });

  test('a missing secret stops it with exit 2, naming the key and file', async (t) => {
    const without = fakeSandboxHome(['turn_secret']);
    t.after(() => rmSync(without, { recursive: true, force: true }));
    const error = await cli(['sandbox'], { HOME: without }).catch((e: Error) => e);
    assert.ok(error instanceof Error);
    assert.match(error.message, /hosts\.sandbox\.secrets\.turnSecret: key "turn_secret" of \/\S+\/\.cache\/rtcops\/sandbox\/secrets\.yaml is not set/);
  });

  test('usage errors', async () => {
    await assert.rejects(cli([]), { name: 'UsageError', message: 'render: name the host to render (e.g. sandbox)' });
    await assert.rejects(cli(['sandbox', 'extra']), { name: 'UsageError', message: 'render: unexpected arguments: extra' });
    await assert.rejects(cli(['sandbox', '--bogus']), { name: 'UsageError' });
    await assert.rejects(cli(['sandbox', '--out', join(EXAMPLE_INVENTORY, '..', 'lib', 'rendered')]), { name: 'UsageError', message: /inside a git work tree and not ignored/ });
  });
});
