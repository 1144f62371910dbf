// @rtcops/client in a real browser (Debian's chromium, in its own network namespace) against the real server on
// the host end of the veth: a call that survives a network outage by ICE restart, retried while the network is down.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { build } from 'esbuild';
import type { Browser, Page } from 'puppeteer-core';
import { createBrowserNetns, launchChromium, screenshotDir, type BrowserNetns } from '../../helpers/browser.js';
import { freePort } from '../../helpers/process.js';
import { startTestServer, token, type TestServer } from '../../helpers/server.js';

const REPO = join(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'rtcops-client-'));
let bundle = '';
let browser: Browser;
let ns: BrowserNetns;
let server: TestServer;

before(async () => {
  const out = join(dir, 'page.js');
  await build({ entryPoints: [join(REPO, 'test/fixtures/client-page/main.ts')], outfile: out, bundle: true, format: 'iife', target: ['chrome110'], logLevel: 'warning' });
  bundle = readFileSync(out, 'utf8');
  ns = createBrowserNetns();
  const port = await freePort();
  // A long heartbeat: the outage below must test ICE, not the signaling socket's liveness check.
  server = await startTestServer({ PORT: String(port), HOST: ns.hostIp, LISTEN_IP: ns.hostIp, ANNOUNCED_IP: ns.hostIp, RTC_MIN_PORT: '43000', RTC_MAX_PORT: '43999', HEARTBEAT_INTERVAL_MS: '120000' });
  browser = await launchChromium([`--unsafely-treat-insecure-origin-as-secure=http://${ns.hostIp}:${port}`], ns);
});
after(async () => {
  await browser?.close();
  await server?.stop();
  ns?.remove();
  rmSync(dir, { recursive: true, force: true });
});

type Ev = { name: string; data: Record<string, unknown>; at: number };
const events = (page: Page) => page.evaluate(() => (globalThis as unknown as { rtcopsTest: { recorded: { events: Ev[] } } }).rtcopsTest.recorded.events);
const received = (page: Page) => page.evaluate(() => {
  const g = globalThis as unknown as { rtcopsTest: { receivedBytes: (c: unknown) => Promise<number> }; sub: unknown };
  return g.rtcopsTest.receivedBytes(g.sub);
});

/** Bytes still arriving: the counter grows over `ms`. */
async function flowing(page: Page, ms = 1500): Promise<number> {
  const a = await received(page);
  await sleep(ms);
  return (await received(page)) - a;
}

describe('@rtcops/client in chromium: a call through a network outage', { timeout: 240_000 }, () => {
  // Longer than chromium's ICE failure timeout (~30 s without consent), so ICE cannot recover by itself; the restarts
  // sent while the network is down are lost with it (their requests time out), so only a retry can bring media back.
  it('drops every packet for 35 s: the transports fail, get ICE restarts (retried while down) and media flows again', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`http://${ns.hostIp}:${server.port}/healthz`);
      await page.evaluateOnNewDocument('globalThis.__name = (f) => f');
      await page.addScriptTag({ content: `globalThis.__name = (f) => f;\n${bundle}` });
      const url = `ws://${ns.hostIp}:${server.port}/signaling`;
      await page.evaluate(async (url: string, pubToken: string, subToken: string) => {
        const t = (globalThis as unknown as { rtcopsTest: { open: (r: string, u: string, k: string) => Promise<any> } }).rtcopsTest;
        const pub = await t.open('pub', url, pubToken);
        await pub.join();
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
        await pub.produce(stream.getAudioTracks()[0]!);
        const sub = await t.open('sub', url, subToken);
        const joined = await sub.join();
        await sub.consume(joined.producers[0].producerId);
        Object.assign(globalThis, { pub, sub });
      }, url, token({ sub: 'pub', room: 'outage' }), token({ sub: 'sub', room: 'outage' }));
      const before = await flowing(page);
      assert.ok(before > 0, 'media flows before the outage');

      // The browser's network goes away: nothing in or out of its namespace, signaling included.
      ns.iptables(['-I', 'OUTPUT', '-j', 'DROP']);
      ns.iptables(['-I', 'INPUT', '-j', 'DROP']);
      try {
        await sleep(35_000);
      } finally {
        ns.iptables(['-D', 'OUTPUT', '-j', 'DROP']);
        ns.iptables(['-D', 'INPUT', '-j', 'DROP']);
      }
      const back = Date.now();
      let after = 0;
      for (const deadline = Date.now() + 90_000; Date.now() < deadline; ) {
        after = await flowing(page, 1000);
        if (after > 0) break;
      }
      const log = await events(page);
      const shot = join(screenshotDir(), 'client-outage.png');
      await page.screenshot({ path: shot });
      const summary = log.map((e) => `${e.name} ${JSON.stringify(e.data)}`).join('\n');
      assert.ok(after > 0, `media flows again after the outage:\n${summary}`);
      assert.ok(log.some((e) => e.name.endsWith(':iceRestarted')), `an ICE restart happened:\n${summary}`);
      assert.ok(log.some((e) => e.name.endsWith(':connectionState') && e.data['state'] === 'failed' && e.at < back), `ICE failed during the outage:\n${summary}`);
      assert.equal(log.some((e) => e.name.endsWith(':disconnected')), false, `the signaling socket stayed up (this is the ICE path):\n${summary}`);
      assert.deepEqual(server.fatal, []);
    } finally {
      await page.close();
    }
  });
});
