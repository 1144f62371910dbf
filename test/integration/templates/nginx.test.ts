import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket, { WebSocketServer } from 'ws';
import type { ResolvedHost } from '../../../lib/inventory/index.js';
import { exampleHost } from '../../fixtures/inventories/hosts.js';
import { freePort, rendered, run, selfSignedCert, tempDir, tool, writeFile } from './tools.js';

/** The host with every path nginx opens moved into dir. */
function hostIn(dir: string, name: 'sandbox' | 'prod', appPort?: number): ResolvedHost {
  const host = exampleHost(name);
  const { cert, key } = selfSignedCert(dir, host.tls.certName);
  host.tls.fullchain = cert;
  host.tls.privkey = key;
  host.tls.webroot = join(dir, 'acme');
  host.nginx.logDir = dir;
  if (appPort !== undefined) host.app.port = appPort;
  return host;
}

/** A main nginx.conf that keeps pid, logs and temp files in dir and includes the site like Debian's does. */
function mainConf(dir: string, site: string): string {
  writeFile(join(dir, 'site.conf'), site);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`).join(' ');
  return writeFile(
    join(dir, 'nginx.conf'),
    `daemon off;\npid ${dir}/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n  include /etc/nginx/mime.types;\n  ${temp}\n  include ${dir}/site.conf;\n}\n`,
  );
}

async function nginxTest(dir: string, site: string) {
  const conf = mainConf(dir, site);
  return run(tool('nginx', 'nginx'), ['-t', '-e', 'stderr', '-p', `${dir}/`, '-c', conf]);
}

describe('nginx site: nginx -t accepts every variant', () => {
  const cases = [
    { name: 'sandbox site', host: 'sandbox', id: 'nginx-site' },
    { name: 'sandbox first boot (no certificate yet)', host: 'sandbox', id: 'nginx-site-first-boot' },
    { name: 'prod site with HSTS', host: 'prod', id: 'nginx-site' },
  ] as const;
  for (const c of cases) {
    test(c.name, async (t) => {
      const dir = tempDir(t, 'nginx');
      const { exitCode, output } = await nginxTest(dir, rendered(hostIn(dir, c.host), c.id).content);
      assert.equal(exitCode, 0, output);
      assert.match(output, /test is successful/);
    });
  }

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
function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host: 'rtc.sandbox.test', ...headers }, rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The rendered site served by a real nginx on loopback test ports, in front of a stand-in app. */
async function liveSite(t: TestContext, adminCidrs = ['127.0.0.1/32']) {
  const dir = tempDir(t, 'nginx-live');
  // nginx workers run as nobody and must read the ACME webroot.
  chmodSync(dir, 0o755);
  const [appPort, httpPort, httpsPort] = [await freePort(), await freePort(), await freePort()];
  const seen: IncomingHttpHeaders[] = [];
  const app = createServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, filler: 'x'.repeat(1000) }));
  });
  const wss = new WebSocketServer({ server: app });
  wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo:${data.toString()}`)));
  await new Promise<void>((resolve) => app.listen(appPort, '127.0.0.1', resolve));
  t.after(() => app.close());

  const host = hostIn(dir, 'sandbox', appPort);
  host.adminCidrs = adminCidrs;
  // The only change for the test: listen on loopback test ports instead of 80 and 443.
  const site = rendered(host, 'nginx-site')
    .content.replace('listen 80;', `listen 127.0.0.1:${httpPort};`)
    .replace('listen 443 ssl;', `listen 127.0.0.1:${httpsPort} ssl;`)
    .replace(/\n\s*listen \[::\]:(80|443)( ssl)?;/g, '');
  writeFile(join(host.tls.webroot, '.well-known/acme-challenge/token-1'), 'token-1.thumbprint');
  const conf = mainConf(dir, site);
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
  return { http: `http://127.0.0.1:${httpPort}`, https: `https://127.0.0.1:${httpsPort}`, httpsPort, seen, logDir: dir, stderr: () => stderr };
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

  test('HTTPS proxies to the app with the client address nginx saw, not a forged one', async (t) => {
    const site = await liveSite(t);
    const reply = await get(`${site.https}/healthz`, { 'x-forwarded-for': '198.51.100.66', 'x-real-ip': '198.51.100.66' });
    assert.equal(reply.status, 200);
    const headers = site.seen.at(-1);
    assert.equal(headers?.['x-real-ip'], '127.0.0.1');
    assert.equal(headers?.['x-forwarded-for'], '127.0.0.1');
    assert.equal(headers?.['x-forwarded-proto'], 'https');
  });

  test('JSON is gzipped; unknown paths are 404', async (t) => {
    const site = await liveSite(t);
    assert.equal((await get(`${site.https}/turn-credentials`, { 'accept-encoding': 'gzip' })).headers['content-encoding'], 'gzip');
    assert.equal((await get(`${site.https}/index.html`)).status, 404);
  });

  test('/status and /metrics reach the app only from admin CIDRs', async (t) => {
    const admin = await liveSite(t, ['127.0.0.1/32']);
    assert.equal((await get(`${admin.https}/status`)).status, 200);
    assert.equal((await get(`${admin.https}/metrics`)).status, 200);
    const outsider = await liveSite(t, ['192.0.2.0/24']);
    assert.equal((await get(`${outsider.https}/status`)).status, 403);
    assert.equal((await get(`${outsider.https}/metrics`)).status, 403);
    assert.equal((await get(`${outsider.https}/healthz`)).status, 200);
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
