import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket, { WebSocketServer } from 'ws';
import type { ResolvedHost } from '../../../lib/inventory/index.js';
import { upstreamConf } from '../../../lib/deploy/slots.js';
import { exampleHost } from '../../fixtures/inventories/hosts.js';
import { createSocket } from 'node:dgram';
import { TurnClient, TurnError } from '../../../lib/turn/client.js';
import { mintTurnCredentials } from '../../../lib/turn/credentials.js';
import { pathTrickCorpus, rawRequest, UPGRADE_HEADERS } from '../../helpers/raw-http.js';
import { freePort, rendered, run, selfSignedCert, startCoturn, tempDir, tool, writeFile } from './tools.js';

/** The host with every path nginx opens moved into dir. */
function hostIn(dir: string, name: 'sandbox' | 'prod', appPort?: number): ResolvedHost {
  const host = exampleHost(name);
  const { cert, key } = selfSignedCert(dir, host.tls.certName);
  host.tls.fullchain = cert;
  host.tls.privkey = key;
  host.tls.webroot = join(dir, 'acme');
  host.nginx.logDir = dir;
  host.nginx.upstreamFile = join(dir, 'upstream.conf');
  if (appPort !== undefined) host.app.slots.a.port = appPort;
  writeFile(host.nginx.upstreamFile, upstreamConf(host, host.app.slots.a));
  return host;
}

/** Where Debian's libnginx-mod-stream puts the module the 443 router needs. */
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/**
 * A main nginx.conf that keeps pid, logs and temp files in dir and includes the site like Debian's does; with a
 * stream config (the 443 router), it is included at the top level, as Debian's modules-enabled/*.conf are.
 */
function mainConf(dir: string, site: string, stream?: string): string {
  writeFile(join(dir, 'site.conf'), site);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`).join(' ');
  if (stream !== undefined && !existsSync(STREAM_MODULE)) assert.fail(`${STREAM_MODULE} is missing: apt-get install libnginx-mod-stream (.ci/run installs it)`);
  const top = stream === undefined ? '' : `load_module ${STREAM_MODULE};\ninclude ${writeFile(join(dir, 'stream.conf'), stream)};\n`;
  return writeFile(
    join(dir, 'nginx.conf'),
    `daemon off;\npid ${dir}/nginx.pid;\nerror_log stderr;\n${top}events {}\nhttp {\n  include /etc/nginx/mime.types;\n  ${temp}\n  include ${dir}/site.conf;\n}\n`,
  );
}

async function nginxTest(dir: string, site: string, stream?: string) {
  const conf = mainConf(dir, site, stream);
  return run(tool('nginx', 'nginx'), ['-t', '-e', 'stderr', '-p', `${dir}/`, '-c', conf]);
}

describe('nginx site: nginx -t accepts every variant', () => {
  const cases = [
    { name: 'sandbox site behind the 443 router', host: 'sandbox', id: 'nginx-site', tls443: true },
    { name: 'sandbox first boot (no certificate yet)', host: 'sandbox', id: 'nginx-site-first-boot', tls443: true },
    { name: 'prod site with HSTS', host: 'prod', id: 'nginx-site', tls443: true },
    { name: 'sandbox site on 443 itself (turn.tls443: false)', host: 'sandbox', id: 'nginx-site', tls443: false },
  ] as const;
  for (const c of cases) {
    test(c.name, async (t) => {
      const dir = tempDir(t, 'nginx');
      const host = hostIn(dir, c.host);
      host.turn.tls443 = c.tls443;
      const stream = rendered(host, 'nginx-stream').content;
      assert.equal(/^stream \{/m.test(stream), c.tls443, 'the router is there exactly when turn.tls443 is on');
      const { exitCode, output } = await nginxTest(dir, rendered(host, c.id).content, stream);
      assert.equal(exitCode, 0, output);
      assert.match(output, /test is successful/);
    });
  }

  test('worker_shutdown_timeout, in the main context as Debian\'s nginx.conf includes modules-enabled/*.conf', async (t) => {
    const dir = tempDir(t, 'nginx');
    const host = hostIn(dir, 'sandbox');
    const shutdown = writeFile(join(dir, 'shutdown.conf'), rendered(host, 'nginx-shutdown').content);
    const conf = mainConf(dir, rendered(host, 'nginx-site').content);
    writeFile(conf, `include ${shutdown};\n${readFileSync(conf, 'utf8')}`);
    const { exitCode, output } = await run(tool('nginx', 'nginx'), ['-t', '-e', 'stderr', '-p', `${dir}/`, '-c', conf]);
    assert.equal(exitCode, 0, output);
    assert.match(rendered(host, 'nginx-shutdown').content, /^worker_shutdown_timeout 635s;$/m, 'deploy.drainWaitSec 600 + kill_timeout 35 s');
  });

  test('a broken site is rejected (the check can fail)', async (t) => {
    const dir = tempDir(t, 'nginx');
    const site = rendered(hostIn(dir, 'sandbox'), 'nginx-site').content.replace('proxy_http_version 1.1;', 'proxy_http_version;');
    const { exitCode, output } = await nginxTest(dir, site);
    assert.notEqual(exitCode, 0);
    assert.match(output, /invalid number of arguments in "proxy_http_version"/);
  });
});

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request on its own connection (no keep-alive reuse, so a reply is never read from a socket nginx is closing). */
function get(url: string, headers: Record<string, string> = {}, from?: string): Promise<Reply> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host: 'rtc.sandbox.test', ...headers }, rejectUnauthorized: false, agent: false, servername: 'rtc.sandbox.test', ...(from === undefined ? {} : { localAddress: from }) }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The rendered site and 443 router in a main nginx.conf, with the only changes a test needs: 80 and 443 become
 * loopback test ports (IPv6 listeners dropped).
 */
function confOnTestPorts(dir: string, host: ResolvedHost, httpPort: number, httpsPort: number): string {
  const site = rendered(host, 'nginx-site')
    .content.replace('listen 80;', `listen 127.0.0.1:${httpPort};`)
    .replace('listen 443 ssl;', `listen 127.0.0.1:${httpsPort} ssl;`)
    .replace(/\n\s*listen \[::\]:(80|443)( ssl)?;/g, '');
  const stream = rendered(host, 'nginx-stream').content.replace('listen 443;', `listen 127.0.0.1:${httpsPort};`).replace(/\n\s*listen \[::\]:443;/, '');
  return mainConf(dir, site, stream);
}

interface LiveOptions {
  adminCidrs?: string[];
  /** Change the host before rendering (a coturn to route to, turn.tls443 off). */
  edit?: (host: ResolvedHost) => void;
}

/**
 * The rendered site, and the 443 router in front of it (turn.tls443), served by a real nginx on loopback test ports
 * in front of a stand-in app. The only changes for the test: 80 and 443 become loopback test ports.
 */
async function liveSite(t: TestContext, o: LiveOptions = {}) {
  const dir = tempDir(t, 'nginx-live');
  // nginx workers run as nobody and must read the ACME webroot.
  chmodSync(dir, 0o755);
  const [appPort, httpPort, httpsPort, siteLoopback, turnHop] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const seen: IncomingHttpHeaders[] = [];
  /** Every request target that reached the app, plain or upgrade. */
  const reached: string[] = [];
  const app = createServer((req, res) => {
    seen.push(req.headers);
    reached.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, filler: 'x'.repeat(1000) }));
  });
  const wss = new WebSocketServer({ server: app });
  app.on('upgrade', (req: IncomingMessage) => reached.push(req.url ?? ''));
  wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo:${data.toString()}`)));
  await new Promise<void>((resolve) => app.listen(appPort, '127.0.0.1', resolve));
  t.after(() => app.close());

  const host = hostIn(dir, 'sandbox', appPort);
  host.adminCidrs = o.adminCidrs ?? ['127.0.0.1/32'];
  host.nginx.loopbackPorts = { https: siteLoopback, turnTls: turnHop };
  o.edit?.(host);
  writeFile(join(host.tls.webroot, '.well-known/acme-challenge/token-1'), 'token-1.thumbprint');
  const conf = confOnTestPorts(dir, host, httpPort, httpsPort);
  const nginx = spawn(tool('nginx', 'nginx'), ['-e', 'stderr', '-p', `${dir}/`, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  nginx.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.after(() => nginx.kill('SIGQUIT'));
  // Ready when both listeners answer; a slow machine gets 15 s, and a failure says what nginx said.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const up = await Promise.all([`http://127.0.0.1:${httpPort}/`, `https://127.0.0.1:${httpsPort}/healthz`].map((u) => get(u).then(() => true, () => false)));
    if (up.every(Boolean)) break;
    if (nginx.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start serving (exit ${nginx.exitCode}):\n${stderr}`);
    await sleep(50);
  }
  return { http: `http://127.0.0.1:${httpPort}`, https: `https://127.0.0.1:${httpsPort}`, httpsPort, siteLoopback, seen, reached, logDir: dir, stderr: () => stderr };
}

describe('nginx site: served by a real nginx', () => {
  test('HTTP answers ACME challenges and redirects everything else to HTTPS', async (t) => {
    const site = await liveSite(t);
    const challenge = await get(`${site.http}/.well-known/acme-challenge/token-1`);
    assert.equal(challenge.status, 200);
    assert.equal(challenge.body, 'token-1.thumbprint');
    const other = await get(`${site.http}/signaling?x=1`);
    assert.equal(other.status, 301);
    assert.equal(other.headers.location, 'https://rtc.sandbox.test/signaling?x=1');
  });

  test('HTTPS proxies to the app with the client address nginx saw (through the 443 router), not a forged one', async (t) => {
    const site = await liveSite(t);
    // From 127.0.0.2: the router connects to the site from 127.0.0.1, its PROXY header carries the caller's address.
    const reply = await get(`${site.https}/turn-credentials`, { 'x-forwarded-for': '198.51.100.66', 'x-real-ip': '198.51.100.66' }, '127.0.0.2');
    assert.equal(reply.status, 200);
    const headers = site.seen.at(-1);
    assert.equal(headers?.['x-real-ip'], '127.0.0.2');
    assert.equal(headers?.['x-forwarded-for'], '127.0.0.2');
    assert.equal(headers?.['x-forwarded-proto'], 'https');
    await sleep(100);
    assert.match(readFileSync(join(site.logDir, 'rtcops.access.log'), 'utf8'), /^127\.0\.0\.2 - - .*"GET \/turn-credentials HTTP\/1\.1" 200 /m, 'the access log (fail2ban reads it) has the caller');
    assert.match(readFileSync(join(site.logDir, 'rtcops.stream.log'), 'utf8'), /^127\.0\.0\.2 .* rtc\.sandbox\.test 127\.0\.0\.1:\d+ /m, 'the router logs the caller, the name and where it went');
  });

  test('the site behind the router takes no connection without the router\'s PROXY header', async (t) => {
    const site = await liveSite(t);
    const before = site.seen.length;
    await assert.rejects(get(`https://127.0.0.1:${site.siteLoopback}/healthz`), 'a TLS client straight to the loopback port gets nothing');
    assert.equal(site.seen.length, before, 'nothing reached the app');
  });

  test('JSON is gzipped; unknown paths are 404', async (t) => {
    const site = await liveSite(t);
    assert.equal((await get(`${site.https}/turn-credentials`, { 'accept-encoding': 'gzip' })).headers['content-encoding'], 'gzip');
    assert.equal((await get(`${site.https}/index.html`)).status, 404);
  });

  test('/status and /metrics reach the app only from admin CIDRs, judged by the caller\'s address, not the router\'s', async (t) => {
    const site = await liveSite(t, { adminCidrs: ['127.0.0.2/32'] });
    for (const path of ['/status', '/metrics']) {
      assert.equal((await get(`${site.https}${path}`, {}, '127.0.0.2')).status, 200, `${path} from the admin address`);
      assert.equal((await get(`${site.https}${path}`, {}, '127.0.0.3')).status, 403, `${path} from another address`);
      assert.equal((await get(`${site.https}${path}`)).status, 403, `${path} from 127.0.0.1, the router's own address`);
    }
    assert.equal((await get(`${site.https}/healthz`, {}, '127.0.0.3')).status, 200);
  });

  test('path tricks: from an outsider nothing gets past 400/403/404, from an admin address nothing but the exact paths reaches the app', async (t) => {
    const site = await liveSite(t, { adminCidrs: ['127.0.0.1/32'] });
    const from = (localAddress: string) => ({ host: '127.0.0.1', port: site.httpsPort, tls: true, localAddress, hostHeader: 'rtc.sandbox.test' });
    const upgrade = UPGRADE_HEADERS;
    const corpus = pathTrickCorpus(['/metrics', '/status']);
    site.reached.length = 0; // the readiness probe's /healthz
    const wrong: string[] = [];
    for (const source of ['127.0.0.2', '127.0.0.1']) {
      for (const target of corpus) {
        for (const headers of [{}, upgrade]) {
          const r = await rawRequest(from(source), target, headers);
          if (![400, 403, 404].includes(r.status)) wrong.push(`${source} ${JSON.stringify(target)}${headers === upgrade ? ' (upgrade)' : ''} -> ${r.status}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(site.reached, [], 'no trick reached the app');

    // The exact paths still do, with their query; the admin-only ones from the admin address only.
    const exact = ['/signaling?room=r1&token=a.b.c', '/turn-credentials', '/connection-test', '/connection-test/app.js', '/healthz', '/status', '/metrics'];
    const statuses = async (source: string) => Promise.all(exact.map(async (p) => `${p} ${(await rawRequest(from(source), p)).status}`));
    assert.deepEqual(await statuses('127.0.0.2'), exact.map((p) => `${p} ${p === '/status' || p === '/metrics' ? 403 : 200}`));
    assert.deepEqual(await statuses('127.0.0.1'), exact.map((p) => `${p} 200`));
    assert.deepEqual(site.reached.sort(), [...exact, ...exact.filter((p) => p !== '/status' && p !== '/metrics')].sort());
  });

  test('a request flood gets 429, and fail2ban\'s nginx-limit-req filter matches what nginx logged', async (t) => {
    const site = await liveSite(t);
    const replies = await Promise.allSettled(Array.from({ length: 40 }, () => get(`${site.https}/turn-credentials`)));
    const failed = replies.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    assert.deepEqual(failed, [], `requests failed; nginx said:\n${site.stderr()}`);
    const statuses = replies.flatMap((r) => (r.status === 'fulfilled' ? [r.value.status] : []));
    assert.ok(statuses.includes(429), `no 429 among ${statuses.join(' ')}`);
    await sleep(100);
    const result = await run(tool('fail2ban-regex', 'fail2ban'), [join(site.logDir, 'rtcops.error.log'), '/etc/fail2ban/filter.d/nginx-limit-req.conf']);
    const matched = Number(/^Lines: \d+ lines, \d+ ignored, (\d+) matched/m.exec(result.output)?.[1]);
    assert.equal(matched, statuses.filter((s) => s === 429).length, result.output);
  });

  test('a bot probe is a 404 that fail2ban\'s nginx-botsearch filter matches in the access log', async (t) => {
    const site = await liveSite(t);
    assert.equal((await get(`${site.https}/wp-login.php`)).status, 404);
    await sleep(100);
    const result = await run(tool('fail2ban-regex', 'fail2ban'), [join(site.logDir, 'rtcops.access.log'), '/etc/fail2ban/filter.d/nginx-botsearch.conf']);
    // The readiness probe's redirect is logged too, and must not match.
    assert.match(result.output, /^Lines: \d+ lines, 0 ignored, 1 matched, [1-9]\d* missed/m, result.output);
  });

  test('a signaling token in the query (where browsers must put it) never reaches the access log; the connection test page is proxied', async (t) => {
    const site = await liveSite(t);
    const secret = 'eyJhbGciOiJIUzI1NiJ9.not-a-real-token.but-secret-looking';
    const ws = new WebSocket(`wss://127.0.0.1:${site.httpsPort}/signaling?token=${secret}`, { rejectUnauthorized: false, headers: { host: 'rtc.sandbox.test' } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.close();
    const page = await get(`${site.https}/connection-test`);
    assert.equal(page.status, 200);
    assert.equal(JSON.parse(page.body).path, '/connection-test');
    assert.equal((await get(`${site.https}/connection-test/other.js`)).status, 404, 'only the page and its script');
    await sleep(200);
    const log = readFileSync(join(site.logDir, 'rtcops.access.log'), 'utf8');
    assert.match(log, /"GET \/signaling HTTP\/1\.1" 101 /);
    assert.doesNotMatch(log, /token=|not-a-real-token/);
  });

  test('/signaling carries a WebSocket through TLS to the app', async (t) => {
    const site = await liveSite(t);
    const ws = new WebSocket(`wss://127.0.0.1:${site.httpsPort}/signaling`, { rejectUnauthorized: false, headers: { host: 'rtc.sandbox.test' } });
    t.after(() => ws.close());
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send('hello');
    const answer = await new Promise<string>((resolve) => ws.once('message', (data: WebSocket.RawData) => resolve(String(data))));
    assert.equal(answer, 'echo:hello');
  });
});

describe('the 443 router: one port, two services by TLS server name (turn.tls443)', () => {
  /** coturn from the rendered turnserver.conf on 127.0.0.1, and the site with its router routing turn.sandbox.test to it. */
  async function turnBehindRouter(t: TestContext) {
    // The test's echo peer is on loopback, which coturn never relays to unless told: only this test tells it.
    const coturn = await startCoturn(t, (host) => Object.assign(host.turn, { allowedPeerIps: ['127.0.0.1'] }), '\nallow-loopback-peers\n');
    const site = await liveSite(t, { edit: (host) => Object.assign(host.turn, { relayIp: '127.0.0.1', tlsPort: coturn.tlsPort }) });
    const connect = () => TurnClient.connect({ transport: 'tls', host: '127.0.0.1', port: site.httpsPort, servername: 'turn.sandbox.test', secureContext: coturn.trust, timeoutMs: 3000 });
    return { coturn, site, connect };
  }

  test('TURN over TLS on 443 reaches coturn (allocate, relay, refused private peer); the app domains reach the site', async (t) => {
    const { coturn, site, connect } = await turnBehindRouter(t);
    const client = await connect();
    t.after(() => client.close());
    const binding = await client.binding();
    // What README says: coturn sees nginx's hop (the host's own address), not the caller, as the client.
    assert.equal(binding.mapped.ip, '127.0.0.1');
    const creds = mintTurnCredentials(coturn.secret, 'router-test', 300);
    const allocation = await client.allocate(creds.username, creds.password);
    assert.equal(allocation.relayed.ip, '127.0.0.1');
    const peer = createSocket('udp4');
    t.after(() => peer.close());
    peer.on('message', (msg, rinfo) => peer.send(msg, rinfo.port, rinfo.address));
    await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
    await client.createPermission('127.0.0.1');
    client.send({ ip: '127.0.0.1', port: peer.address().port }, Buffer.from('through 443'));
    assert.equal((await client.nextData(3000)).data.toString(), 'through 443');
    await assert.rejects(client.createPermission('10.0.0.1'), (e: unknown) => e instanceof TurnError && e.code === 403, 'private peers stay refused');
    // The same port, another name: the HTTPS site (its certificate, not coturn's).
    assert.equal((await get(`${site.https}/healthz`)).status, 200);
    // nginx logs a stream session when it ends.
    await client.close();
    await sleep(200);
    assert.match(readFileSync(join(site.logDir, 'rtcops.stream.log'), 'utf8'), /^127\.0\.0\.1 .* turn\.sandbox\.test 127\.0\.0\.1:\d+ /m, 'the router logs the TURN caller');
  });

  test('with a wrong TURN secret the allocation through 443 is refused (coturn, not nginx, decides)', async (t) => {
    const { connect } = await turnBehindRouter(t);
    const client = await connect();
    t.after(() => client.close());
    const creds = mintTurnCredentials('not-the-secret-0000000000000000000000000', 'router-test', 300);
    await assert.rejects(client.allocate(creds.username, creds.password), (e: unknown) => e instanceof TurnError && e.code === 401);
  });
});

describe('the 443 router on a host that served the site on 443 itself (an upgrade)', () => {
  test('a reload (what provisioning does) moves 443 from the site to the router without a restart', async (t) => {
    const dir = tempDir(t, 'nginx-upgrade');
    const [httpPort, httpsPort, siteLoopback, turnHop] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const host = hostIn(dir, 'sandbox');
    host.nginx.loopbackPorts = { https: siteLoopback, turnTls: turnHop };
    const local = (h: ResolvedHost) => confOnTestPorts(dir, h, httpPort, httpsPort);
    host.turn.tls443 = false;
    const conf = local(host);
    const nginx = spawn(tool('nginx', 'nginx'), ['-e', 'stderr', '-p', `${dir}/`, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    nginx.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    t.after(() => nginx.kill('SIGQUIT'));
    const answers = async () => (await get(`https://127.0.0.1:${httpsPort}/nothing-here`).then((r) => r.status, () => 0));
    for (let i = 0; (await answers()) !== 404; i++) {
      if (i > 300 || nginx.exitCode !== null) assert.fail(`nginx did not start:\n${stderr}`);
      await sleep(50);
    }
    host.turn.tls443 = true;
    local(host);
    nginx.kill('SIGHUP');
    // After the reload the site answers through the router: its log shows the route.
    for (let i = 0; ; i++) {
      assert.equal(await answers(), 404, `the site stays up through the reload:\n${stderr}`);
      await sleep(50);
      const log = existsSync(join(dir, 'rtcops.stream.log')) ? readFileSync(join(dir, 'rtcops.stream.log'), 'utf8') : '';
      if (log.includes('rtc.sandbox.test')) break;
      if (i > 200) assert.fail(`the router never took 443 over:\n${stderr}`);
    }
    assert.equal(nginx.exitCode, null, 'the same nginx, reloaded');
  });
});
