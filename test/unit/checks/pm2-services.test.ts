import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gradePm2, Pm2Check, type Pm2Process } from '../../../lib/checks/pm2.js';
import { gradeServices, ServicesCheck } from '../../../lib/checks/services.js';

const proc = (status: string, restarts: number): Pm2Process[] => [{ name: 'rtcops', pid: 42, pm2_env: { status, restart_time: restarts }, monit: { memory: 104857600, cpu: 3 } }];
const opts = { processName: 'rtcops', restartWarn: 1, restartCritical: 3 };

describe('pm2: process state and restart spikes (pm2 jlist)', () => {
  const cases: [string, Pm2Process[], number | undefined, 'ok' | 'warn' | 'critical', RegExp][] = [
    ['online, first look', proc('online', 7), undefined, 'ok', /online, 7 restarts in total/],
    ['online, no new restart', proc('online', 7), 7, 'ok', /online/],
    ['one restart since last check', proc('online', 8), 7, 'warn', /restarted rtcops 1 time since the last check \(warning at 1\)/],
    ['a restart spike', proc('online', 12), 7, 'critical', /restarted rtcops 5 times since the last check \(critical at 3\)/],
    ['errored', proc('errored', 7), 7, 'critical', /PM2 process rtcops is errored/],
    ['stopped', proc('stopped', 7), 7, 'critical', /is stopped/],
    ['absent', [], undefined, 'critical', /PM2 has no process named rtcops/],
  ];
  for (const [name, list, last, status, message] of cases) {
    it(`${name} → ${status}`, () => {
      const g = gradePm2(opts, list, last);
      assert.equal(g.status, status);
      assert.match(g.message, message);
    });
  }

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
