import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { liveUrl } from '../../../lib/checks/live-slot.js';
import { gradePm2, Pm2Check, restartsInWindow, type Pm2Process } from '../../../lib/checks/pm2.js';
import { gradeServices, ServicesCheck } from '../../../lib/checks/services.js';

const proc = (status: string, restarts: number): Pm2Process[] => [{ name: 'rtcops', pid: 42, pm2_env: { status, restart_time: restarts }, monit: { memory: 104857600, cpu: 3 } }];
const opts = { processName: 'rtcops', crashLoopRestarts: 2, crashLoopWindowMin: 10 };
const MIN = 60_000;

describe('pm2: process state and the crash-loop rate (pm2 jlist)', () => {
  const cases: [string, Pm2Process[], { restarts: number; sinceMs: number } | undefined, 'ok' | 'critical', RegExp][] = [
    ['online, first look', proc('online', 7), undefined, 'ok', /online, 0 restarts in the last 10 min, 7 in total/],
    ['one restart in the window', proc('online', 8), { restarts: 1, sinceMs: 4 * MIN }, 'ok', /online, 1 restart in the last 4 min/],
    ['two restarts in the window: a crash loop', proc('online', 9), { restarts: 2, sinceMs: 10 * MIN }, 'critical', /^crash loop: PM2 restarted rtcops 2 times in the last 10 min \(critical at 2 within 10 min\)/],
    ['errored', proc('errored', 7), undefined, 'critical', /PM2 process rtcops is errored after 7 restarts: pm2 logs rtcops/],
    ['stopped', proc('stopped', 7), undefined, 'critical', /is stopped/],
    ['absent', [], undefined, 'critical', /PM2 has no process named rtcops/],
  ];
  for (const [name, list, window, status, message] of cases) {
    it(`${name} → ${status}`, () => {
      const g = gradePm2(opts, list, window);
      assert.equal(g.status, status);
      assert.match(g.message, message);
    });
  }
});

describe('pm2: restarts within the window, from the samples of earlier runs', () => {
  const s = (min: number, restarts: number) => ({ at: min * MIN, restarts });
  const cases: [string, ReturnType<typeof s>[], ReturnType<typeof s>, number | undefined, number][] = [
    ['no history yet', [], s(0, 5), undefined, 0],
    ['a crash every 2 min, ok runs between: counted over the window', [s(0, 0), s(1, 0), s(2, 1), s(3, 1), s(4, 2), s(5, 2), s(6, 3)], s(7, 3), undefined, 3],
    ['restarts older than the window fall out', [s(0, 0), s(2, 4), s(9, 4), s(13, 4)], s(14, 4), undefined, 0],
    ['the last sample before the window start is the baseline', [s(0, 0), s(3, 2), s(12, 3)], s(14, 3), undefined, 1],
    ['a counter that went back (process deleted and started again) starts over', [s(0, 9), s(1, 9)], s(2, 0), undefined, 0],
    ['a deploy\'s restarts do not count', [s(0, 0), s(1, 2), s(2, 3)], s(3, 3), 2.5 * MIN, 0],
    ['restarts after the deploy ended count', [s(0, 0), s(1, 2), s(3, 2), s(4, 3)], s(5, 4), 2.5 * MIN, 2],
    ['while a deploy runs (its end in the future)', [s(0, 0), s(1, 2)], s(2, 5), 9 * MIN, 0],
  ];
  for (const [name, samples, now, deployEnd, restarts] of cases) {
    it(`${name} → ${restarts}`, () => assert.equal(restartsInWindow(samples, now, 10 * MIN, deployEnd).restarts, restarts));
  }

  it('keeps only what the next window needs', () => {
    const samples = Array.from({ length: 100 }, (_, i) => s(i, 0));
    assert.ok(restartsInWindow(samples, s(100, 0), 10 * MIN).samples.length <= 12);
  });
});

describe('pm2 check', () => {
  it('without pm2 installed: not applicable, said clearly', async () => {
    const [r] = await new Pm2Check(opts, 'rtcops-no-such-pm2').run();
    assert.deepEqual([r?.status, r?.message], ['skipped', 'not applicable: pm2 is not installed here']);
  });
});

describe('services: systemctl is-active', () => {
  it('grades each unit by its state, in order', () => {
    const r = gradeServices(['nginx.service', 'coturn.service', 'certbot.timer', 'fail2ban.service'], 'active\nfailed\ninactive\nactivating\n');
    assert.deepEqual(r.map((x) => [x.target, x.status]), [['nginx.service', 'ok'], ['coturn.service', 'critical'], ['certbot.timer', 'critical'], ['fail2ban.service', 'critical']]);
    assert.match(r[1]?.message ?? '', /coturn.service is failed: systemctl status coturn.service; journalctl -u coturn.service/);
  });

  it('without systemd as PID 1 (this dev machine): not applicable for every unit', async () => {
    const r = await new ServicesCheck(['nginx.service', 'certbot.timer'], '/nonexistent/systemd').run();
    assert.deepEqual(r.map((x) => x.status), ['skipped', 'skipped']);
    assert.match(r[0]?.message ?? '', /not applicable: systemd is not running/);
  });
});

describe('pm2 check on a host with deploy slots: the process of the slot nginx serves', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rtcops-pm2-slots-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const upstreamFile = join(dir, 'upstream.conf');
  const fakePm2 = (list: Pm2Process[]) => {
    const bin = join(dir, `pm2-${Math.random().toString(36).slice(2)}`);
    writeFileSync(bin, `#!/bin/sh\necho '${JSON.stringify(list)}'\n`, { mode: 0o755 });
    return bin;
  };
  const named = (name: string, status: string): Pm2Process => ({ name, pid: 42, pm2_env: { status, restart_time: 0 }, monit: { memory: 1, cpu: 1 } });
  const slots = { upstreamFile, processes: { 3000: 'rtcops-a', 3001: 'rtcops-b' } };
  const cases: [string, number | undefined, Pm2Process[], 'ok' | 'critical', RegExp][] = [
    ['nginx on slot b: slot b\'s process is the one graded', 3001, [named('rtcops-a', 'online'), named('rtcops-b', 'errored')], 'critical', /PM2 process rtcops-b is errored/],
    ['nginx on slot a', 3000, [named('rtcops-a', 'online')], 'ok', /PM2 process rtcops-a online/],
    ['a host deployed before slots (its single process) until its first slot deploy', 3000, [named('rtcops', 'online')], 'ok', /PM2 process rtcops online/],
    ['no upstream file: processName', undefined, [named('rtcops', 'online')], 'ok', /PM2 process rtcops online/],
  ];
  for (const [name, port, list, status, message] of cases) {
    it(`${name} → ${status}`, async () => {
      rmSync(upstreamFile, { force: true });
      if (port !== undefined) writeFileSync(upstreamFile, `upstream rtcops_live {\n    server 127.0.0.1:${port};\n}\n`);
      const [r] = await new Pm2Check({ ...opts, slots }, fakePm2(list)).run();
      assert.deepEqual([r?.target, r?.status], ['rtcops', status]);
      assert.match(r?.message ?? '', message);
    });
  }

  it('the server check\'s URL takes the live slot\'s port', () => {
    writeFileSync(upstreamFile, 'upstream rtcops_live {\n    server 127.0.0.1:3001;\n}\n');
    assert.equal(liveUrl('http://127.0.0.1:3000', upstreamFile), 'http://127.0.0.1:3001');
    assert.equal(liveUrl('http://127.0.0.1:3000', join(dir, 'missing.conf')), 'http://127.0.0.1:3000');
  });
});
