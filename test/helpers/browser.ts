import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

/** Debian's chromium (scripts/test-tools.txt); puppeteer-core never downloads a browser. */
export const CHROMIUM = process.env['RTCOPS_CHROMIUM'] ?? '/usr/bin/chromium';

/** Where the browser tests put their screenshots: look at them (CI keeps the directory as an artifact). */
export function screenshotDir(): string {
  const dir = process.env['RTCOPS_TEST_ARTIFACTS'] ?? join(tmpdir(), 'rtcops-test-artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * A network namespace for the browser, joined to this machine by a veth pair: the browser is another host at
 * `browserIp`, this machine is `hostIp` (198.18.0.0/15, the benchmarking range: no real network, and not one of the
 * private ranges coturn refuses to relay to). Chrome leaves loopback out of ICE, so a browser on this machine's
 * loopback could never make a direct UDP call; from here it can, and iptables in the namespace can close paths.
 */
export interface BrowserNetns { name: string; hostIp: string; browserIp: string; iptables: (args: string[]) => void; remove: () => void }

export function createBrowserNetns(): BrowserNetns {
  const n = 1 + Math.floor(Math.random() * 250);
  const name = `rtcops-browser-${process.pid}-${n}`;
  const [h, g] = [`rtb${n}h${process.pid % 1000}`, `rtb${n}g${process.pid % 1000}`];
  const [hostIp, browserIp] = [`198.18.${n}.1`, `198.18.${n}.2`];
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const remove = () => {
    try { ip('link', 'del', h); } catch { /* already gone */ }
    try { ip('netns', 'del', name); } catch { /* already gone */ }
  };
  try {
    ip('netns', 'add', name);
    ip('link', 'add', h, 'type', 'veth', 'peer', 'name', g);
    ip('link', 'set', g, 'netns', name);
    ip('addr', 'add', `${hostIp}/30`, 'dev', h);
    ip('link', 'set', h, 'up');
    ip('netns', 'exec', name, 'ip', 'addr', 'add', `${browserIp}/30`, 'dev', g);
    ip('netns', 'exec', name, 'ip', 'link', 'set', g, 'up');
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  } catch (error) {
    remove();
    throw error;
  }
  return { name, hostIp, browserIp, remove, iptables: (args) => ip('netns', 'exec', name, 'iptables', ...args) };
}

/**
 * Headless chromium with fake media devices (the page's own generated tracks need none, the "use my camera" box
 * gets the fake ones), in `netns` when given (DevTools over a pipe, so nothing listens). extraArgs: e.g.
 * --host-resolver-rules to reach the sandbox's names.
 */
export async function launchChromium(extraArgs: string[] = [], netns?: BrowserNetns): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install chromium (bash scripts/setup.sh --test-tools npm test does it)`);
  let executablePath = CHROMIUM;
  let wrapperDir: string | undefined;
  if (netns !== undefined) {
    wrapperDir = mkdtempSync(join(tmpdir(), 'rtcops-chromium-'));
    executablePath = join(wrapperDir, 'chromium');
    writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec ${netns.name} ${CHROMIUM} "$@"\n`);
    chmodSync(executablePath, 0o755);
  }
  const browser = await puppeteer.launch({
    executablePath,
    pipe: true,
    headless: true,
    args: [
      '--no-sandbox', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required',
      '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--window-size=1000,1100', ...extraArgs,
    ],
    defaultViewport: { width: 1000, height: 1100 },
  });
  if (wrapperDir !== undefined) browser.once('disconnected', () => rmSync(wrapperDir, { recursive: true, force: true }));
  return browser;
}
