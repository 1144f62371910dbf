import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { BackupReport } from '../../../lib/backup/backup.js';
import { backupMain, restoreMain } from '../../../lib/backup/command.js';
import { writeNewKey } from '../../../lib/backup/key.js';
import type { RestoreReport } from '../../../lib/backup/restore.js';
import { deployMain } from '../../../lib/deploy/command.js';
import { probeSignaling } from '../../../lib/deploy/signaling-probe.js';
import { loadInventory, type ResolvedHost } from '../../../lib/inventory/index.js';
import { provisionMain } from '../../../lib/provision/command.js';
import { connectionOf } from '../../../lib/host/index.js';
import { SshTarget } from '../../../lib/runner/index.js';
import { sandboxDown, sandboxUp, type SandboxUpResult } from '../../../lib/sandbox/index.js';
import { runMain as cli } from '../../helpers/cli.js';
import { sandboxInventoryYaml } from '../../helpers/sandbox-inventory.js';
import { startPebble } from '../../helpers/pebble.js';
import { startS3, type TestS3 } from '../../helpers/s3.js';

const NAME = 'e2e-backup';
const ENV = { jwt: 'E2E_BACKUP_JWT_SECRET', admin: 'E2E_BACKUP_ADMIN_TOKEN', turn: 'E2E_BACKUP_TURN_SECRET' } as const;

function inventoryYaml(sb: SandboxUpResult, acme: { directoryUrl: string; caFile: string }, app = 'rtcops'): string {
  return sandboxInventoryYaml(NAME, 'debian-12', sb, {
    secretsEnv: { jwtSecret: ENV.jwt, adminToken: ENV.admin, turnSecret: ENV.turn },
    acme: { directoryUrl: acme.directoryUrl, caBundle: acme.caFile }, app: { name: app, drainTimeoutMs: 3000 }, deploy: { gateTimeoutSec: 30, watchSec: 2 },
  });
}

/** The SHA-256 fingerprint of the certificate nginx serves for the app's name (as openssl prints it). */
function servedFingerprint(address: string, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: address, port: 443, servername: 'rtc.sandbox.test', ca }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.once('error', reject);
  });
}

describe('backup, destroy, restore onto a fresh sandbox: same release, same certificate, checks green', { timeout: 1_200_000 }, () => {
  let sb: SandboxUpResult;
  let dir: string;
  let inventory: string;
  let otherApp: string;
  let keyFile: string;
  let otherKey: string;
  let issuerRoot: string;
  let host: ResolvedHost;
  let shell: SshTarget | undefined;
  let backup: BackupReport;
  const released: string[] = [];
  let fingerprint: string;
  // The off-site copy: an S3-compatible server on loopback; the final restore comes from it.
  let s3: TestS3;
  const bucket = 's3://rtcops-offsite/prod';
  const sh = async (script: string) => {
    shell ??= await SshTarget.connect(connectionOf(host));
    return (await shell.script(script, { root: true, allowFailure: true })).stdout;
  };
  const reconnect = () => { shell?.close(); shell = undefined; };
  const restore = (args: string[], inv = inventory) => cli(restoreMain, [NAME, '-i', inv, '--json', '--probe-direct', '--ca-file', issuerRoot, ...args]);
  // What a restore would touch: configs, the app (not its logs, which a serving host writes), the tools, the audit
  // logs; and the package set.
  const hostState = () => sh('touch /root/.rtcops-marker 2>/dev/null; dpkg-query -W -f \'${Package}\\n\' | wc -l; ls -A /srv /var/log/rtcops 2>&1 | sort');
  const changedSince = () => sh('find /etc /srv /usr/local /var/log/rtcops -newer /root/.rtcops-marker -not -path "/srv/*/shared/logs*" 2>/dev/null | head');

  before(async () => {
    for (const v of Object.values(ENV)) process.env[v] = randomBytes(32).toString('hex');
    dir = mkdtempSync(join(tmpdir(), 'rtcops-backup-e2e-'));
    keyFile = join(dir, 'backup.key');
    otherKey = join(dir, 'other.key');
    await writeNewKey(keyFile);
    await writeNewKey(otherKey);
    s3 = await startS3(['rtcops-offsite']);
    process.env['AWS_ACCESS_KEY_ID'] = s3.accessKeyId;
    process.env['AWS_SECRET_ACCESS_KEY'] = s3.secretAccessKey;
    sb = await sandboxUp({ name: NAME });
    const pebble = await startPebble(sb.hostAddress, sb.address);
    try {
      // The ACME server's CA outlives it: the inventory keeps naming it (provisioning installs it for renewals).
      const acme = { directoryUrl: pebble.directoryUrl, caFile: join(dir, 'acme-ca.pem') };
      copyFileSync(pebble.caFile, acme.caFile);
      inventory = join(dir, 'inventory.yaml');
      writeFileSync(inventory, inventoryYaml(sb, acme));
      otherApp = join(dir, 'other-app.yaml');
      writeFileSync(otherApp, inventoryYaml(sb, acme, 'billing'));
      host = loadInventory(inventory).hosts[NAME] as ResolvedHost;
      const p = await cli(provisionMain, [NAME, '-i', inventory]);
      assert.equal(p.code, 0, `${p.out}\n${p.err.slice(-3000)}`);
      issuerRoot = join(dir, 'issuer-root.pem');
      writeFileSync(issuerRoot, await pebble.issuerRoot());
    } finally {
      // From here on no ACME server answers: a restore that asked certbot for a certificate would fail.
      await pebble.stop();
    }
    for (const args of [['--ref', 'HEAD'], ['--ref', 'HEAD', '--now']]) {
      const d = await cli(deployMain, [NAME, '-i', inventory, '--json', '--probe-direct', '--ca-file', issuerRoot, ...args]);
      const r = (JSON.parse(d.out) as { hosts: { release: string; status: string; error?: string }[] }).hosts[0]!;
      assert.equal(d.code, 0, `${r.error ?? ''}\n${d.err.slice(-2000)}`);
      released.push(r.release);
    }
    fingerprint = await servedFingerprint(sb.address, readFileSync(issuerRoot));
    // An open alert of our own in the daemon's state, to find again after the restore.
    await sh([
      'systemctl stop rtcops-health',
      'f=/var/lib/rtcops-health/alerts.json; [ -s "$f" ] || echo \'{"version":1,"alerts":{}}\' > "$f"',
      'jq \'.alerts["disk /e2e-marker"] = {failures: 3, successes: 0, triggered: true, severity: "warn", since: "2025-01-01T00:00:00.000Z"}\' "$f" > "$f.new" && mv "$f.new" "$f" && chown rtcops:rtcops "$f" && chmod 600 "$f"',
      'systemctl start rtcops-health',
    ].join('\n'));
  });
  after(async () => {
    shell?.close();
    await sandboxDown({ name: NAME });
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('backup.mjs pulls one dated archive: manifest, configs, alert state, audit logs, both releases, secrets only encrypted; and uploads it', async () => {
    const { code, out, err } = await cli(backupMain, [NAME, '-i', inventory, '--out', join(dir, 'backups'), '--key-file', keyFile, '--upload', bucket, '--s3-endpoint', s3.endpoint, '--json']);
    backup = (JSON.parse(out) as { hosts: BackupReport[] }).hosts[0]!;
    assert.equal(code, 0, `${backup.error ?? ''}\n${err}`);
    console.log(`# backup: ${backup.file} ${((backup.bytes ?? 0) / 1048576).toFixed(1)} MB in ${(backup.ms / 1000).toFixed(1)} s`);
    assert.deepEqual(backup.phases.map((p) => `${p.phase}:${p.status}`), ['connect:ok', 'inspect:ok', 'configs:ok', 'secrets:ok', 'releases:ok', 'pack:ok', 'verify:ok', 'upload:ok', 'retention:ok']);
    assert.equal(backup.uploaded, `${bucket}/${NAME}/${backup.file!.split('/').pop()}`);
    assert.match(err, /\[e2e-backup\] secrets ok \(\d+\.\d+s\): .*\/etc\/letsencrypt → secrets\.tar\.gz\.age/);
    assert.equal(backup.release, released[1]);
    assert.equal(backup.previous, released[0]);
    assert.equal(backup.verified, true);
    const file = backup.file!;
    assert.match(file, new RegExp(`/backups/${NAME}/rtcops-${NAME}-\\d{8}T\\d{6}Z\\.tar\\.gz$`));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(`${file}.sha256`, 'utf8').split(' ')[0], backup.sha256);
    const members = execFileSync('tar', ['-tzf', file]).toString().split('\n');
    for (const m of ['manifest.json', 'secrets.tar.gz.age', `releases/${released[0]}.tar.gz`, `releases/${released[1]}.tar.gz`,
      'files/etc/nginx/sites-available/rtcops.conf', 'files/etc/fail2ban/jail.local', 'files/etc/ssh/sshd_config.d/10-rtcops-hardening.conf',
      'files/srv/rtcops/shared/ecosystem.config.cjs', 'files/etc/apt/apt.conf.d/50unattended-upgrades', 'files/srv/rtcops/shared/rtcops-daemon.json',
      'files/var/lib/rtcops-health/alerts.json', 'files/var/log/rtcops/provision.log', 'files/var/log/rtcops/deploy.log']) {
      assert.ok(members.includes(m), `${m} in the archive`);
    }
    for (const secret of ['files/etc/turnserver.conf', 'files/srv/rtcops/shared/rtcops.env', 'files/srv/rtcops/shared/rtcops-daemon.env', 'files/etc/prometheus/rtcops-node-exporter-web.yml']) assert.ok(!members.includes(secret), `${secret} only encrypted`);
    // Of /etc/letsencrypt only rtcops's own deploy hook is in the clear; certificates, keys and the account are encrypted.
    assert.deepEqual(members.filter((m) => m.includes('letsencrypt') && !m.endsWith('/')), ['files/etc/letsencrypt/renewal-hooks/deploy/rtcops.sh']);
    // Not one secret value in the whole archive, decompressed, nor in what was printed.
    const raw = execFileSync('sh', ['-c', 'gunzip -c "$1" | tar -xOf - --wildcards "manifest.json" "files/*"', 'x', file], { maxBuffer: 64 * 1024 * 1024 }).toString('latin1');
    for (const v of Object.values(ENV)) {
      assert.ok(!raw.includes(process.env[v]!), `${v} not in the archive`);
      assert.ok(!out.includes(process.env[v]!) && !err.includes(process.env[v]!), `${v} not printed`);
    }
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', file, 'manifest.json']).toString()) as { tls: { fingerprint: string }; secretPaths: string[] };
    assert.equal(manifest.tls.fingerprint, fingerprint);
    assert.deepEqual(manifest.secretPaths, ['/etc/turnserver.conf', '/srv/rtcops/shared/rtcops.env', '/srv/rtcops/shared/rtcops-daemon.env', '/etc/prometheus/rtcops-node-exporter-web.yml', '/etc/letsencrypt']);
    const check = await cli(restoreMain, [NAME, '-i', inventory, '--from', file, '--key-file', keyFile, '--verify-only']);
    assert.equal(check.code, 0, check.err);
    assert.match(check.out, new RegExp(`: OK — \\d+ member\\(s\\) match their SHA-256, the secrets decrypt with --key-file .*\\n  rtcops on e2e-backup \\(Debian GNU/Linux 12 \\(bookworm\\)\\).*\\n  release ${released[1]}, previous ${released[0]}; certificate ${fingerprint}`));
  });

  it('an upload that fails after the backup: exit 1, the host failed, its local archive kept and named', async () => {
    // s3rver keeps objects as files under <dir>/<bucket>/<key>: a plain file where the host's folder must go makes the
    // put fail inside the server (HTTP 500) while the bucket still answers the check made before the backup.
    mkdirSync(join(s3.dir, 'rtcops-offsite', 'broken'), { recursive: true });
    writeFileSync(join(s3.dir, 'rtcops-offsite', 'broken', NAME), 'in the way');
    const out = join(dir, 'backups-upload-fails');
    const { code, out: stdout } = await cli(backupMain, [NAME, '-i', inventory, '--out', out, '--key-file', keyFile, '--upload', 's3://rtcops-offsite/broken', '--s3-endpoint', s3.endpoint]);
    assert.equal(code, 1, stdout);
    assert.match(stdout, new RegExp(`^${NAME}: FAILED after [\\d.]+s: s3://rtcops-offsite/broken at ${s3.endpoint}: upload rtcops-${NAME}-\\d{8}T\\d{6}Z\\.tar\\.gz failed: .*\\(HTTP 500\\)`));
    const kept = new RegExp(`\\n  the local archive is fine: (${out}/${NAME}/rtcops-${NAME}-\\d{8}T\\d{6}Z\\.tar\\.gz)\\n`).exec(stdout)?.[1];
    assert.ok(kept !== undefined && statSync(kept).size > 0 && statSync(`${kept}.sha256`).size > 0, stdout);
    assert.match(stdout, new RegExp(`failed on: ${NAME}$`));
  });

  it('the health daemon\'s backup check backs the host up on its own (scheduled backups), and again on the next run though the archive is fresh', async () => {
    const cfg = join(dir, 'backup-daemon.json');
    const outDir = join(dir, 'scheduled');
    writeFileSync(cfg, JSON.stringify({ host: 'backups', stateFile: join(dir, 'backup-alerts.json'), checks: { backup: { inventory, hosts: [NAME], outDir, keyFile, upload: { url: bucket, endpoint: s3.endpoint } } } }));
    const once = () => execFileSync(process.execPath, ['--import', 'tsx', 'daemon/main.ts', '--config', cfg, '--once', '--json'], { cwd: join(import.meta.dirname, '../../..'), env: process.env }).toString();
    type Results = { results: { status: string; message: string; values: Record<string, unknown> }[] };
    const first = (JSON.parse(once()) as Results).results[0];
    assert.equal(first?.status, 'ok', first?.message);
    assert.match(first?.message ?? '', new RegExp(`^backed up ${NAME}: rtcops-${NAME}-\\d{8}T\\d{6}Z\\.tar\\.gz, [\\d.]+ MB, release ${released[1]}, uploaded to ${bucket}/${NAME}/rtcops-${NAME}-\\d{8}T\\d{6}Z\\.tar\\.gz$`));
    assert.equal(first?.values['release'], released[1]);
    // The schedule is the contract: a fresh archive does not skip a run.
    const second = (JSON.parse(once()) as Results).results[0];
    assert.equal(second?.status, 'ok', second?.message);
    assert.notEqual(second?.values['file'], first?.values['file']);
  });

  it('restore.mjs refuses a host that serves, and changes nothing there', async () => {
    const before = await hostState();
    const { code, out } = await restore(['--from', backup.file!, '--key-file', keyFile]);
    const r = JSON.parse(out) as RestoreReport;
    assert.equal(code, 1);
    assert.equal(r.status, 'refused');
    assert.match(r.error ?? '', new RegExp(`e2e-backup already serves \\(release ${released[1]} is current\\); a restore is for a fresh host, nothing was changed`));
    assert.match(r.hint ?? '', /--force/);
    assert.equal(await changedSince(), '');
    assert.equal(await hostState(), before);
  });

  it('the host is destroyed and a fresh one booted in its place', async () => {
    reconnect();
    await sandboxDown({ name: NAME });
    sb = await sandboxUp({ name: NAME });
    assert.equal((await sh('ls -d /srv/rtcops /etc/letsencrypt/live /var/log/rtcops 2>/dev/null | wc -l')).trim(), '0');
  });

  const bad: [string, () => Promise<string>, string[], RegExp][] = [
    ['a corrupted archive', async () => {
      const f = join(dir, 'corrupted.tar.gz');
      const bytes = readFileSync(backup.file!);
      bytes[Math.floor(bytes.length / 3)]! ^= 0x55;
      writeFileSync(f, bytes);
      writeFileSync(`${f}.sha256`, readFileSync(`${backup.file!}.sha256`));
      return f;
    }, [], /does not match its checksum file: it was damaged or truncated/],
    ['a truncated archive (its checksum file recomputed)', async () => {
      const f = join(dir, 'truncated.tar.gz');
      writeFileSync(f, readFileSync(backup.file!).subarray(0, Math.floor(statSync(backup.file!).size * 0.6)));
      execFileSync('sh', ['-c', 'sha256sum "$1" > "$1.sha256"', 'sum', f]);
      return f;
    }, [], /does not unpack: it is not a complete tar\.gz/],
    ['the wrong key', async () => backup.file!, ['--key-file-other'], /wrong backup key: the archive was encrypted to age1/],
    ['an archive from another app', async () => backup.file!, ['--other-app'], /is a backup of app "rtcops" \(host e2e-backup\); the inventory's host runs app "billing"/],
  ];
  for (const [name, make, flags, message] of bad) {
    it(`${name}: a clear error, exit 2, nothing changed on the fresh host`, async () => {
      const before = await hostState();
      const file = await make();
      const { code, out, err } = await restore(['--from', file, '--key-file', flags.includes('--key-file-other') ? otherKey : keyFile], flags.includes('--other-app') ? otherApp : inventory);
      assert.equal(code, 2, out);
      assert.match(err, message);
      const r = JSON.parse(out) as RestoreReport;
      assert.equal(r.status, 'rejected');
      assert.match(r.error ?? '', message);
      assert.ok((r.hint ?? '').length > 0, 'names a fix');
      assert.equal(await changedSince(), '');
      assert.equal(await hostState(), before);
    });
  }

  it('restore.mjs rebuilds it from the bucket: same release serving, same certificate, previous release, alert state and audit history back, checks green', async () => {
    // The operator's machine is gone too: the newest backup of the host in the bucket (the daemon's second run).
    const { code, out, err } = await restore(['--from', bucket, '--s3-endpoint', s3.endpoint, '--key-file', keyFile]);
    const r = JSON.parse(out) as RestoreReport;
    for (const c of r.checks?.results ?? []) console.log(`# ${c.status.padEnd(8)} ${c.check} ${c.target}: ${c.message}`);
    assert.equal(code, 0, `${r.error ?? ''}\n${r.hint ?? ''}\n${err.slice(-4000)}`);
    assert.match(err, new RegExp(`downloaded ${bucket}/${NAME}/rtcops-${NAME}-\\d{8}T\\d{6}Z\\.tar\\.gz`));
    assert.ok(r.archive > `${bucket}/${NAME}/${backup.file!.split('/').pop()}`, `${r.archive}: the newest in the bucket, after backup.mjs's`);
    console.log(`# recovery time: ${(r.recoveryMs / 1000).toFixed(1)} s (${r.phases.filter((p) => !p.phase.includes('/')).map((p) => `${p.phase} ${(p.ms / 1000).toFixed(1)}s`).join(', ')})`);
    assert.deepEqual(r.phases.filter((p) => !p.phase.includes('/')).map((p) => `${p.phase}:${p.status}`), [
      'download:ok', 'verify:ok', 'connect:ok', 'inspect:ok', 'audit-logs:ok', 'packages:ok', 'certificates:ok', 'provision:ok', 'releases:ok', 'alert-state:ok', 'checks:ok',
    ]);
    assert.match(err, /\[e2e-backup\] provision\/tls (ok|changed)/);
    assert.doesNotMatch(err, /obtain a certificate/, 'certbot was not asked for a new certificate');
    assert.equal(r.release, released[1]);
    assert.equal((await sh('basename "$(readlink /srv/rtcops/current)"; basename "$(readlink /srv/rtcops/previous)"')).trim(), `${released[1]}\n${released[0]}`);
    assert.equal((await sh('port=$(grep -o "127.0.0.1:[0-9]*" /etc/nginx/rtcops-upstream.conf | cut -d: -f2); curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$port/healthz"')).trim(), '200', 'the slot nginx serves answers');
    const signaling = await probeSignaling({ url: 'wss://rtc.sandbox.test/signaling', jwtSecret: process.env[ENV.jwt]!, timeoutMs: 5000, address: sb.address, ca: readFileSync(issuerRoot) });
    assert.equal(signaling.ok, true, signaling.error);
    assert.equal(await servedFingerprint(sb.address, readFileSync(issuerRoot)), fingerprint);
    assert.equal(r.fingerprint, fingerprint);
    assert.equal(r.checks?.critical, 0);
    assert.deepEqual(r.checks?.notJudged, ['system']);
    for (const c of ['tls-expiry', 'turn', 'turn-peers', 'server', 'media-probe', 'disk', 'pm2', 'services']) {
      assert.ok(r.checks?.results.some((x) => x.check === c && x.status === 'ok'), `${c} ran and passed`);
    }
    assert.ok((r.checks?.ok ?? 0) >= 10, `${r.checks?.ok} checks ok`);
    const alerts = JSON.parse(await sh('cat /var/lib/rtcops-health/alerts.json')) as { alerts: Record<string, { triggered: boolean; since?: string }> };
    assert.equal(alerts.alerts['disk /e2e-marker']?.since, '2025-01-01T00:00:00.000Z');
    const deploys = (await sh('cat /var/log/rtcops/deploy.log')).trim().split('\n').map((l) => JSON.parse(l) as { release?: string; status: string });
    assert.deepEqual(deploys.slice(0, 2).map((d) => d.release), released, 'the old host\'s deploy history comes first');
    assert.equal(deploys.at(-1)?.release, released[1]);
    const provisions = (await sh('cat /var/log/rtcops/provision.log')).trim().split('\n').map((l) => JSON.parse(l) as { time: string });
    assert.ok(provisions.length >= 3 && provisions[0]!.time < backup.file!.replace(/.*-(\d{8}T\d{6}Z)\.tar\.gz$/, '$1').replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'), 'the old host\'s provisioning history comes first');
    assert.ok(r.recoveryMs < 5 * 60_000, `recovery in ${r.recoveryMs} ms`);
  });
});
