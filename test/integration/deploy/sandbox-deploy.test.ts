import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpsRequest } from 'node:https';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { buildArtifact, MANIFEST } from '../../../lib/deploy/artifact.js';
import { deployMain, releasesMain, rollbackMain } from '../../../lib/deploy/command.js';
import type { DeployOptions, DeployReport } from '../../../lib/deploy/engine.js';
import { probeSignaling } from '../../../lib/deploy/signaling-probe.js';
import { loadInventory, type ResolvedHost } from '../../../lib/inventory/index.js';
import { provisionMain } from '../../../lib/provision/command.js';
import { connectionOf } from '../../../lib/host/index.js';
import { SshTarget } from '../../../lib/runner/index.js';
import { sandboxProbe, type SandboxOs, type SandboxUpResult } from '../../../lib/sandbox/index.js';
import { checkMain } from '../../../lib/checks/command.js';
import { runMain } from '../../helpers/cli.js';
import { e2eName, e2eOses, e2eOsesFirst, freshSandbox, type TestSandbox } from '../../helpers/sandbox.js';
import { sandboxInventoryYaml } from '../../helpers/sandbox-inventory.js';
import { brokenArtifact } from '../../helpers/broken-release.js';
import { startPebble } from '../../helpers/pebble.js';
import { probeExposure, type ExposureReport } from './exposure.js';

const REPO = resolve(import.meta.dirname, '../../..');

interface Result { code: number; report: DeployReport; stderr: string }

/**
 * Every case runs on the first verified release (and on each release RTCOPS_E2E_OS names). On the others, the cases
 * whose subject is the toolkit's own logic, not the host (the lock, the disk check, the readyz and signaling
 * breakages, which differ from the crash case only in what the gate reads), are left out to keep `npm test` well
 * under 30 minutes; the deploy, the gate's call, the switch, the drain, rollback, Ctrl-C and the exposure suite run
 * on every release.
 */
const everyCase = (os: SandboxOs) => e2eOsesFirst().includes(os);

for (const os of e2eOses()) describe(`deploys to the sandbox host (${os}): two slots behind nginx, the gate before any caller, rollback.mjs, the lock, check.mjs`, { timeout: 900_000 }, () => {
  const NAME = e2eName('deploy', os);
  const onlyFirst = everyCase(os) ? {} : { skip: `${os}: run with RTCOPS_E2E_OS=${os}` };
  /** What each deploy and rollback here recorded in the audit log (action:status), for releases.mjs's history. */
  const audited: string[] = [];
  const named = (text: string) => text.replaceAll('HOST', NAME);
  let box: TestSandbox | undefined;
  let sb: SandboxUpResult;
  let dir: string;
  let inventory: string;
  let host: ResolvedHost;
  let issuerRoot: string;
  let good: string;
  let shell: SshTarget | undefined;
  const releases: string[] = [];
  const sh = async (script: string) => {
    shell ??= await SshTarget.connect(connectionOf(host));
    return (await shell.script(script, { root: true, allowFailure: true })).stdout;
  };
  const probe = ['--probe-direct', '--ca-file'];
  const cli = async (main: typeof deployMain, args: string[], extra: Partial<DeployOptions> = {}): Promise<Result> => {
    let out = '';
    let err = '';
    const code = await main([NAME, '-i', inventory, '--json', ...probe, issuerRoot, ...args], { out: (t) => { out += t; }, err: (t) => { err += `${t}\n`; } }, extra);
    const parsed = JSON.parse(out) as { hosts: DeployReport[] };
    return { code, report: parsed.hosts[0] as DeployReport, stderr: err };
  };
  const current = async () => (await sh('basename "$(readlink /srv/rtcops/current)"')).trim();
  const serves = () => probeSignaling({ url: 'wss://rtc.sandbox.test/signaling', jwtSecret: process.env['E2E_DEPLOY_JWT_SECRET']!, timeoutMs: 5000, address: sb.address, ca: readFileSync(issuerRoot) });
  const upstream = async () => (await sh('cat /etc/nginx/rtcops-upstream.conf')).match(/127\.0\.0\.1:(\d+)/)?.[1];
  const poll = () => pollHealthz(sb.address, readFileSync(issuerRoot));
  const lastAudit = async () => JSON.parse((await sh('tail -1 /var/log/rtcops/deploy.log')).trim()) as Record<string, unknown>;

  before(async () => {
    process.env['E2E_DEPLOY_JWT_SECRET'] = randomBytes(32).toString('hex');
    process.env['E2E_DEPLOY_ADMIN_TOKEN'] = randomBytes(32).toString('hex');
    process.env['E2E_DEPLOY_TURN_SECRET'] = randomBytes(32).toString('hex');
    dir = mkdtempSync(join(tmpdir(), 'rtcops-deploy-e2e-'));
    box = await freshSandbox(NAME, os);
    sb = box.sb;
    const acme = await startPebble(sb.hostAddress, sb.address);
    try {
      inventory = join(dir, 'inventory.yaml');
      writeFileSync(inventory, sandboxInventoryYaml(NAME, os, sb, {
        secretsEnv: { jwtSecret: 'E2E_DEPLOY_JWT_SECRET', adminToken: 'E2E_DEPLOY_ADMIN_TOKEN', turnSecret: 'E2E_DEPLOY_TURN_SECRET' },
        acme: { directoryUrl: acme.directoryUrl, caBundle: acme.caFile }, app: { drainTimeoutMs: 3000 },
        // Short gate and watch: a bad release costs the gate deadline, and every case here deploys one.
        deploy: { keepReleases: 4, gateTimeoutSec: 6, watchSec: 2, drainWaitSec: 600 },
      }));
      host = loadInventory(inventory).hosts[NAME] as ResolvedHost;
      // The health daemon is not part of a deploy, and its probes would open rooms the drain wait counts.
      let log = '';
      const code = await provisionMain([NAME, '-i', inventory, '--skip', 'daemon'], { out: (t) => { log += t; }, err: (t) => { log += `${t}\n`; } });
      assert.equal(code, 0, log.slice(-3000));
      issuerRoot = join(dir, 'issuer-root.pem');
      writeFileSync(issuerRoot, await acme.issuerRoot());
    } finally {
      await acme.stop();
    }
  });
  after(async () => {
    shell?.close();
    await box?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a good release built from a git ref deploys, passes the gate and serves through nginx', async () => {
    const { code, report, stderr } = await cli(deployMain, ['--ref', 'HEAD']);
    assert.equal(code, 0, `${report.error ?? ''}\n${stderr}`);
    assert.equal(report.status, 'ok');
    assert.deepEqual(report.phases.map((p) => `${p.phase}:${p.status}`), [
      'lock:ok', 'state:ok', 'disk:ok', 'upload:ok', 'link:ok', 'check-config:ok', 'start:ok', 'gate:ok', 'switch:ok', 'watch:ok', 'save:ok', 'drain:skipped', 'stop old:skipped', 'prune:ok',
    ]);
    assert.match(stderr, new RegExp(named('\\[HOST\\] gate a call through slot b: audio published and received back, direct, relay:udp, relay:tls')));
    // A real call from here through slot b's media ports (and coturn) before nginx switched: RTP counts per path.
    assert.match(stderr, new RegExp(named('\\[HOST\\] gate ok \\(\\d+\\.\\d+s\\): healthz, readyz, signaling and a call passed on slot b \\(port 3001\\) .*: direct (2[0-5])/25 RTP, relay:udp (2[0-5])/25 RTP, relay:tls (2[0-5])/25 RTP')));
    assert.equal(await upstream(), '3001', 'nginx sends callers to slot b');
    assert.match(await sh('nginx -T 2>/dev/null | grep worker_shutdown_timeout'), /worker_shutdown_timeout 608s;/, 'old workers keep the old slot\'s sockets for its drain: drainWaitSec 600 + kill_timeout 8 s');
    assert.equal(await current(), report.release);
    assert.equal((await serves()).ok, true);
    assert.equal((await sh('readlink /srv/rtcops/releases/*/.env | sort -u')).trim(), '/srv/rtcops/shared/rtcops.env');
    assert.equal((await lastAudit())['status'], 'ok');
    audited.push('deploy:ok');
    releases.push(report.release!);
    good = (await buildArtifact({ repo: REPO, ref: 'HEAD', os })).file;
    assert.ok(readFileSync(good).length > 1_000_000, 'the build is cached by sha');
  });

  it('rollback.mjs right after the first deploy is refused with the fix, and changes nothing', async () => {
    const { code, report } = await cli(rollbackMain, []);
    assert.equal(code, 1);
    assert.equal(report.status, 'refused');
    assert.match(report.error ?? '', new RegExp(named('no release to roll back to on HOST: none older than the current one that did not fail')));
    assert.match(report.hint ?? '', new RegExp(named('deploy the next release with npx zx scripts/deploy\\.mjs HOST .*or name one with --to')));
    assert.equal(await current(), releases[0]);
    audited.push('rollback:refused');
  });

  it('check.mjs from outside: TLS, TURN over UDP/TCP/TLS (5349 and 443), TURN\'s refused peers (turn-peers), the server and a real call through the SFU pass', async () => {
    const { code, out, err } = await runMain(checkMain, [NAME, '-i', inventory, '--json', '--probe-direct', '--ca-file', issuerRoot, '--no-ssh']);
    const results = (JSON.parse(out) as { results: { check: string; target: string; status: string; message: string }[] }).results;
    const ran = results.filter((r) => r.status !== 'skipped');
    assert.equal(code, 0, `${err}\n${JSON.stringify(results, null, 2)}`);
    assert.deepEqual([...new Set(ran.map((r) => r.check))].sort(), ['media-probe', 'server', 'tls-expiry', 'turn', 'turn-peers']);
    // TURN over TLS on 443 (nginx's router, turn.tls443) is checked like the other paths, a real call included.
    for (const id of ['turn/tls-443', 'media-probe/relay:tls-443', 'tls-expiry/turn.sandbox.test:443']) assert.ok(ran.some((r) => `${r.check}/${r.target}` === id), `${id} ran`);
    assert.deepEqual(ran.filter((r) => r.status === 'critical'), [], 'nothing critical');
    // A round trip over the warning line on a loaded 2-core machine is a figure, not a failure; anything else is.
    assert.deepEqual(ran.filter((r) => r.status === 'warn' && !/took [\d.]+ ms \(warning above \d+ ms\)/.test(r.message)), [], 'no warning but latency');
  });

  let exposure: ExposureReport | undefined;
  it('exposure from a non-admin address: every TCP port, the host\'s UDP ports, TURN peers and TCP relays, the path-trick corpus on 443 reach nothing the firewall plan does not open to it', async () => {
    const outsider = await sandboxProbe({ name: NAME });
    exposure = await probeExposure({ host, address: sb.address, bridgeAddress: sb.hostAddress, outsider, sh, ca: readFileSync(issuerRoot, 'utf8'), jwtSecret: process.env['E2E_DEPLOY_JWT_SECRET']! });
    assert.deepEqual(exposure.findings, [], exposure.summary);
  });

  // allowed-peer-ip lets a relay reach every port of the announced IP; the relay guard (nftables) keeps it to the media
  // ports and the health daemon's TURN echo port.
  it('exposure: a TURN UDP relay to the host\'s own address reaches its media ports and nothing else', () => {
    assert.ok(exposure !== undefined, 'the exposure probe ran');
    assert.deepEqual(exposure.ownHostRelay, [], exposure.summary);
  });

  it('a second release starts beside the first in slot a, nginx switches to it gracefully: a poller through nginx sees no failure; the first records as previous and stops', async () => {
    const poller = poll();
    const { code, report } = await cli(deployMain, ['--artifact', good]);
    const polled = await poller.stop();
    assert.equal(code, 0, report.error);
    assert.deepEqual(polled.failures, [], `${polled.ok} answered 200, the slowest in ${polled.slowestMs} ms`);
    assert.ok(polled.ok > 10, `the poller ran through the deploy (${polled.ok} requests)`);
    assert.equal(report.phases.find((p) => p.phase === 'drain')?.detail, 'no calls on the old release');
    assert.equal(await upstream(), '3000');
    assert.match(await sh(`su rtcops -s /bin/sh -c 'HOME=/home/rtcops PM2_HOME=/home/rtcops/.pm2 /usr/local/bin/pm2 jlist' | jq -r '.[].name'`), /^rtcops-a$/m);
    assert.doesNotMatch(await sh(`su rtcops -s /bin/sh -c 'HOME=/home/rtcops PM2_HOME=/home/rtcops/.pm2 /usr/local/bin/pm2 jlist' | jq -r '.[].name'`), /rtcops-b/, 'the old slot stopped');
    assert.equal((await sh('basename "$(readlink /srv/rtcops/previous)"')).trim(), releases[0]);
    audited.push('deploy:ok');
    releases.push(report.release!);
  });

  const breakages = [
    // A crash loop is seen in whichever state the gate catches PM2 in (it gives up after max_restarts: stopped).
    ['crash', /PM2 reports the app errored|\/healthz answered nothing|PM2 reports the app (launching|stopping|stopped|waiting restart)/],
    ['readyz', /\/readyz answered 503: .*broken on purpose/],
    ['signaling', /signaling on slot b \(127\.0\.0\.1:3001\) failed at getRouterRtpCapabilities/],
    // Everything answers and ICE/DTLS connect, but no RTP reaches a receiver: only the gate's call sees it.
    ['media', /a call through slot b failed on the direct path: ICE and DTLS connected in \d+ ms but no RTP came back within 2\.0s/],
  ] as const;
  const broken = breakages.filter(([kind]) => everyCase(os) || kind === 'crash' || kind === 'media');
  for (const [kind, reason] of broken) {
    it(`a release that fails (${kind}) in the idle slot never gets a caller: stopped, nginx never switched, the previous one serves on`, async () => {
      // Built first: its tar runs synchronously, and would stall the poller's event loop.
      const artifact = brokenArtifact(good, kind, dir);
      const poller = poll();
      const { code, report, stderr } = await cli(deployMain, ['--artifact', artifact]);
      const polled = await poller.stop();
      assert.equal(code, 1);
      assert.equal(report.status, 'rolled-back', `${report.error ?? ''}\n${stderr}`);
      assert.match(report.error ?? '', reason);
      assert.match(report.error ?? '', /nginx was never switched to it: \S+ kept serving \(slot a\)/);
      assert.deepEqual(polled.failures, [], `${polled.ok} answered 200, the slowest in ${polled.slowestMs} ms`);
      assert.equal(await upstream(), '3000', 'nginx still on slot a');
      assert.ok(!report.phases.some((p) => p.phase === 'switch'), 'no switch');
      assert.doesNotMatch(await sh(`su rtcops -s /bin/sh -c 'HOME=/home/rtcops PM2_HOME=/home/rtcops/.pm2 /usr/local/bin/pm2 jlist' | jq -r '.[].name'`), /rtcops-b/, 'the bad release was stopped');
      assert.equal(report.serving, releases[1]);
      assert.equal(await current(), releases[1]);
      assert.equal((await serves()).ok, true, 'the previous release serves');
      const audit = await lastAudit();
      assert.equal(audit['status'], 'rolled-back');
      assert.ok(audit['check'] !== undefined, 'the failing check is in the audit log');
      if (kind === 'crash') assert.ok((audit['logs'] as string[]).some((l) => l.includes('crash on start (test release)')), 'the failed release\'s logs are kept');
      assert.match(await sh(`cat /srv/rtcops/releases/${report.release}/.rtcops-failed`), /health gate failed/);
      audited.push('deploy:rolled-back');
    });
  }

  it('rollback.mjs returns to the previous release in one command, through the gate', async () => {
    const { code, report, stderr } = await cli(rollbackMain, ['--now']);
    assert.equal(code, 0, `${report.error ?? ''}\n${stderr}`);
    assert.equal(report.release, releases[0]);
    assert.ok(report.phases.some((p) => p.phase === 'gate' && p.status === 'ok'));
    assert.equal(await current(), releases[0]);
    assert.equal((await serves()).ok, true);
    // Two good releases and the failed ones: keepReleases 4 prunes the oldest failed ones, current and previous stay.
    assert.equal(report.pruned.length, 2 + broken.length - 4, 'keepReleases 4: the oldest failed releases go, current and previous stay');
    audited.push('rollback:ok');
  });

  it('a call in progress does not hold the switch back: it stays on the old slot until the drain limit, new callers reach the new one, then the old one stops', async () => {
    const call = await joinCall(sb.address, readFileSync(issuerRoot));
    const closed = new Promise<number>((r) => call.once('close', r));
    try {
      const { code, report, stderr } = await cli(rollbackMain, ['--to', releases[1]!], { timing: { drainWaitMs: 2000, pollMs: 500 } });
      assert.equal(code, 0, `${report.error ?? ''}\n${stderr}`);
      assert.equal(report.status, 'ok');
      assert.match(report.phases.find((p) => p.phase === 'drain')?.detail ?? '', /1 room\(s\) with 1 peer\(s\) still in calls on the old release after 2\.0s: stopping it/);
      assert.match(stderr, /drain 1 room\(s\), 1 peer\(s\) in calls on the old release; waiting up to/);
      assert.equal(await current(), releases[1]);
      assert.equal((await serves()).ok, true);
      audited.push('rollback:ok');
      await closed;
    } finally {
      call.close();
    }
  });

  it('a deploy killed (SIGKILL) in its watch, callers already on it: releases.mjs says so, the lock refuses, --force-unlock first switches back and stops the killed release', onlyFirst, async () => {
    const serving = await current();
    const target = serving === releases[0] ? releases[1]! : releases[0]!;
    const liveBefore = await upstream();
    const child = join(dir, 'killed.mts');
    writeFileSync(child, `import { rollbackMain } from ${JSON.stringify(join(REPO, 'lib/deploy/command.ts'))};\n`
      + `await rollbackMain(${JSON.stringify([NAME, '-i', inventory, '--to', target, '--watch', ...probe, issuerRoot])}, { out: () => {}, err: (t) => process.stderr.write(t + '\\n') }, { timing: { watchMs: 120000 } });\n`);
    const proc = spawn(process.execPath, ['--import', 'tsx', child], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolveKilled, reject) => {
      let err = '';
      proc.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (/\] watch …/.test(err) && proc.signalCode === null) proc.kill('SIGKILL');
      });
      proc.once('exit', () => (/\] watch …/.test(err) ? resolveKilled() : reject(new Error(`the deploy ended before it was killed: ${err}`))));
    });
    // The trap a kill leaves: callers on a release whose watch never ended, `current` naming it.
    assert.notEqual(await upstream(), liveBefore, 'the killed rollback had switched nginx');
    assert.equal(await current(), target);
    let text = '';
    await releasesMain([NAME, '-i', inventory], { out: (t) => { text += t; }, err: () => undefined });
    assert.match(text, new RegExp(`KILLED: rollback of ${target} by .*, last phase: watch; that deploy is no longer running`));
    assert.match(text, new RegExp(`--force-unlock breaks it and first puts the host back in order: callers back on the release that served before it \\(${serving}\\)`));
    const refused = await cli(deployMain, ['--artifact', good]);
    assert.equal(refused.code, 1);
    assert.equal(refused.report.status, 'refused');
    assert.match(refused.report.error ?? '', new RegExp(named(`stale deploy lock on HOST: rollback of ${target} by .* last phase: watch`)));
    assert.match(refused.report.hint ?? '', /--force-unlock: it breaks the lock and first repairs what the killed deploy left/);
    const poller = poll();
    const forced = await cli(rollbackMain, ['--to', releases[0]!, '--force-unlock']);
    const polled = await poller.stop();
    assert.equal(forced.code, 0, forced.report.error);
    assert.match(forced.report.phases[0]?.detail ?? '', /broke a stale lock \(rollback by /);
    assert.match(forced.report.repaired ?? '', new RegExp(`had switched callers to ${target} before its watch ended: nginx back to ${serving} \\(slot \\w, still running\\), which passes the gate again; ${target} stopped`));
    assert.deepEqual(forced.report.phases.filter((p) => ['repair', 'verify repaired', 'stop killed'].includes(p.phase)).map((p) => `${p.phase}:${p.status}`), ['repair:ok', 'verify repaired:ok', 'stop killed:ok']);
    assert.equal(forced.report.from, serving, 'the rollback started from the repaired host');
    assert.deepEqual(polled.failures, [], `callers through nginx saw nothing of the repair (${polled.ok} answered 200)`);
    const audit = await lastAudit();
    assert.ok(audit['brokeLock'] !== undefined, 'breaking a lock is audited');
    assert.match(String(audit['repaired']), /nginx back to/, 'the repair is audited');
    assert.equal(await current(), releases[0]);
    audited.push('deploy:refused', 'rollback:ok');
  });

  it('Ctrl-C during the watch finishes the decision: nginx back to the old slot, the release not marked failed, the lock released, the outcome audited', async () => {
    const before = await current();
    const target = before === releases[0] ? releases[1]! : releases[0]!;
    const child = join(dir, 'interrupted.mts');
    writeFileSync(child, `import { rollbackMain } from ${JSON.stringify(join(REPO, 'lib/deploy/command.ts'))};\n`
      + `process.exitCode = await rollbackMain(${JSON.stringify([NAME, '-i', inventory, '--json', '--to', target, '--watch', ...probe, issuerRoot])}, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t + '\\n') }, { timing: { watchMs: 120000 } });\n`);
    const liveBefore = await upstream();
    const poller = poll();
    const proc = spawn(process.execPath, ['--import', 'tsx', child], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((resolveExit) => {
      proc.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (/\] watch …/.test(err) && proc.signalCode === null && !err.includes('SIGINT:')) proc.kill('SIGINT');
      });
      proc.once('exit', (c) => resolveExit(c));
    });
    const polled = await poller.stop();
    assert.match(err, /SIGINT: finishing this deploy's decision/, err);
    assert.equal(code, 1, err);
    const report = (JSON.parse(out) as { hosts: DeployReport[] }).hosts[0]!;
    assert.deepEqual([report.status, report.interrupted, report.serving], ['rolled-back', 'SIGINT', before], report.error);
    assert.match(report.error ?? '', /interrupted by SIGINT during the watch of \S+, .* not kept/);
    assert.ok(report.ms < 90_000, `it ended at the signal, not after the 120 s watch (${report.ms} ms)`);
    assert.deepEqual(polled.failures, [], `callers through nginx saw nothing of it (${polled.ok} answered 200)`);
    assert.equal(await current(), before);
    assert.equal(await upstream(), liveBefore, 'nginx back on the old slot');
    assert.equal((await sh(`test -e /srv/rtcops/releases/${target}/.rtcops-failed && echo marked || echo clean`)).trim(), 'clean', 'not marked failed: it stays a rollback target');
    const audit = await lastAudit();
    assert.deepEqual([audit['status'], audit['interrupted']], ['rolled-back', 'SIGINT']);
    assert.equal((await serves()).ok, true);
    audited.push('rollback:rolled-back');
  });

  it('two deploys at once: the second is refused by the lock', onlyFirst, async () => {
    const [a, b] = await Promise.all([cli(rollbackMain, ['--to', releases[1]!]), new Promise((r) => setTimeout(r, 300)).then(() => cli(rollbackMain, ['--to', releases[1]!]))]);
    assert.deepEqual([a.code, b.code], [0, 1], `${a.report.error ?? ''} / ${b.report.error ?? ''}`);
    assert.match(b.report.error ?? '', new RegExp(named('another deploy holds the lock on HOST: rollback by \\S+ at ')));
    audited.push('rollback:ok', 'rollback:refused');
  });

  it('a release larger than the free disk is refused before the upload, with sizes in the message', onlyFirst, async () => {
    const huge = join(dir, 'huge');
    mkdirSync(huge);
    writeFileSync(join(huge, MANIFEST), JSON.stringify({ sha: 'ffff0000ffff', ref: 'huge', builtAt: new Date().toISOString(), unpackedBytes: 2 ** 50 }));
    execFileSync('tar', ['-czf', `${huge}.tar.gz`, '-C', huge, MANIFEST]);
    const before = await sh('ls /srv/rtcops/releases');
    const { code, report } = await cli(deployMain, ['--artifact', `${huge}.tar.gz`]);
    assert.equal(code, 1);
    assert.equal(report.status, 'refused');
    assert.match(report.error ?? '', new RegExp(named('not enough free disk on HOST for the release: it needs \\d+ MB in /srv/rtcops/releases, \\d+ MB are free')));
    assert.equal(await sh('ls /srv/rtcops/releases'), before, 'nothing was uploaded');
    assert.equal(await current(), releases[1]);
    audited.push('deploy:refused');
  });

  it('releases.mjs lists the releases, current and previous, the failed ones and the last outcomes', async () => {
    let out = '';
    assert.equal(await releasesMain([NAME, '-i', inventory, '--json'], { out: (t) => { out += t; }, err: () => undefined }), 0);
    const r = JSON.parse(out) as { current: string; previous: string; releases: { id: string; failed?: string }[]; history: { action: string; status: string }[] };
    assert.equal(r.current, releases[1]);
    assert.equal(r.previous, releases[0]);
    assert.equal(r.releases.length, 4, 'pruned to deploy.keepReleases');
    assert.equal(r.releases.filter((x) => x.failed !== undefined).length, 2, 'the oldest failed releases were pruned');
    // The last outcomes, as each case above saw them (sorted: the two deploys at once end in either order).
    const last = audited.slice(-5);
    assert.deepEqual(r.history.slice(-last.length).map((h) => `${h.action}:${h.status}`).sort(), [...last].sort());
    let text = '';
    await releasesMain([NAME, '-i', inventory, '--last', '30'], { out: (t) => { text += t; }, err: () => undefined });
    assert.match(text, new RegExp(`^\\* ${releases[1]}.*\\[current[;\\]]`, 'm'));
    assert.match(text, /FAILED: health gate failed/);
    assert.match(text, /deploy \S+ {2}rolled-back in/);
    assert.match(text, /rollback {2}refused in .*: no release to roll back to/, 'the refused first rollback is listed without a release');
    assert.doesNotMatch(text, /rollback \?/);
    assert.match(text, /rollback \S+ {2}rolled-back \(interrupted by SIGINT\) in/);
    assert.match(text, new RegExp(`^\\* ${releases[1]}.*served since \\d{4}-`, 'm'), 'a release kept after its gate and watch says since when it served');
  });
});

/** A caller in a room, through nginx: what a drain waits for. */
async function joinCall(address: string, ca: Buffer): Promise<WebSocket> {
  const token = jwt.sign({ sub: 'caller-1', room: 'standup' }, process.env['E2E_DEPLOY_JWT_SECRET']!, { algorithm: 'HS256', expiresIn: 300 });
  const ws = new WebSocket('wss://rtc.sandbox.test/signaling', { ca, headers: { authorization: `Bearer ${token}` }, lookup: (_n, o, cb) => (o.all === true ? (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family: 4 }]) : cb(null, address, 4)) });
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  const ask = (id: number, method: string, data: object) => new Promise<Record<string, unknown>>((r) => {
    ws.on('message', (raw) => { const m = JSON.parse(raw.toString()) as { id?: number; data?: Record<string, unknown> }; if (m.id === id) r(m.data ?? {}); });
    ws.send(JSON.stringify({ id, method, data }));
  });
  const caps = await ask(1, 'getRouterRtpCapabilities', {});
  await ask(2, 'join', { rtpCapabilities: { codecs: caps['codecs'] ?? [], headerExtensions: [] } });
  return ws;
}

/**
 * GET https://rtc.sandbox.test/healthz through nginx every 75 ms, each on its own connection, until stopped: what a
 * caller sees. A failure is an answer other than 200 or no answer within 10 s (a 2-core test machine under load can
 * be slow; an outage is a 502/503 or a refused connection); the slowest answer is reported.
 */
function pollHealthz(address: string, ca: Buffer): { stop: () => Promise<{ ok: number; failures: string[]; slowestMs: number }> } {
  let running = true;
  let ok = 0;
  let slowestMs = 0;
  const failures: string[] = [];
  const once = () => new Promise<void>((resolveOnce) => {
    const t0 = Date.now();
    const req = httpsRequest({ host: address, servername: 'rtc.sandbox.test', port: 443, path: '/healthz', headers: { host: 'rtc.sandbox.test' }, ca, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => {
        slowestMs = Math.max(slowestMs, Date.now() - t0);
        if (res.statusCode === 200) ok++;
        else failures.push(`${new Date().toISOString()} HTTP ${res.statusCode}`);
        resolveOnce();
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', (e) => { failures.push(`${new Date().toISOString()} ${e.message}`); resolveOnce(); });
    req.end();
  });
  const loop = (async () => {
    while (running) {
      await once();
      await new Promise((r) => setTimeout(r, 75));
    }
  })();
  return { stop: async () => { running = false; await loop; return { ok, failures, slowestMs }; } };
}
