import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { compareVersions, parseChronyTracking, parseTimesyncStatus, rebootFacts, type ClockFacts } from '../../../lib/checks/host-facts.js';
import { gradeClock, gradeReboot, SystemCheck } from '../../../lib/checks/system.js';

const dir = mkdtempSync(join(tmpdir(), 'rtcops-system-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const limits = { clockWarnMs: 500, clockCriticalMs: 10_000 };

// chronyc -c tracking: ref id, server, stratum, ref time, system time offset, ..., leap status.
const CHRONY = (offset: string, leap = 'Normal') => `A9FEA97B,169.254.169.123,4,1700000000.123456789,${offset},0.000001234,0.000023456,-12.345,0.001,0.012,0.000123,0.000456,64.2,${leap}\n`;
const TIMESYNC = (offset: string) => `       Server: 192.168.1.1 (192.168.1.1)\nPoll interval: 34min 8s (min: 32s; max 34min 8s)\n         Leap: normal\n       Offset: ${offset}\n        Delay: 1.012ms\n`;

describe('clock facts and their grade', () => {
  const cases: [string, ClockFacts | undefined, string, RegExp][] = [
    ['chrony, 12 µs off', parseChronyTracking(CHRONY('-0.000012345')), 'ok', /^clock synchronised \(chrony, 169.254.169.123\), offset 0 ms/],
    ['chrony, 0.8 s off', parseChronyTracking(CHRONY('0.8')), 'warn', /offset 800 ms \(warning at 500 ms, critical at 10000 ms\)/],
    ['chrony, 30 s off', parseChronyTracking(CHRONY('-30.0')), 'critical', /offset 30000 ms/],
    ['chrony, not synchronised', parseChronyTracking(CHRONY('0.001', 'Not synchronised')), 'warn', /^the clock is not synchronised \(chrony/],
    ['timesyncd, -512 µs', parseTimesyncStatus(TIMESYNC('-512us'), 'NTPSynchronized=yes\n'), 'ok', /^clock synchronised \(timesyncd, 192.168.1.1\), offset 0.5 ms/],
    ['timesyncd, +1.2 s', parseTimesyncStatus(TIMESYNC('+1.234s'), 'NTPSynchronized=yes\n'), 'warn', /offset 1234 ms/],
    ['only the kernel says it is synchronised (another NTP daemon)', parseTimesyncStatus('', 'NTPSynchronized=yes\n'), 'ok', /clock synchronised \(kernel\), offset not reported/],
    ['the kernel says it is not', parseTimesyncStatus('', 'NTPSynchronized=no\n'), 'warn', /not synchronised \(kernel\)/],
    ['no source at all', { source: 'none', synchronized: undefined, offsetMs: undefined }, 'warn', /^no time synchronisation found/],
  ];
  for (const [name, facts, status, message] of cases) {
    it(`${name} → ${status}`, () => {
      assert.ok(facts, 'parsed');
      const g = gradeClock(facts, limits);
      assert.equal(g.status, status, g.message);
      assert.match(g.message, message);
    });
  }
  it('output that is not chrony\'s or timesyncd\'s parses to nothing', () => {
    assert.equal(parseChronyTracking('506 Cannot talk to daemon\n'), undefined);
    assert.equal(parseTimesyncStatus('', ''), undefined);
  });
});

describe('reboot required', () => {
  const machine = (files: Record<string, string>, kernels: string[]) => {
    const root = mkdtempSync(join(dir, 'm-'));
    mkdirSync(join(root, 'run'));
    mkdirSync(join(root, 'boot'));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(root, 'run', f), text);
    for (const k of kernels) writeFileSync(join(root, 'boot', `vmlinuz-${k}`), '');
    return { run: join(root, 'run'), boot: join(root, 'boot') };
  };
  const running = '6.1.0-26-amd64';
  const cases: [string, Record<string, string>, string[], boolean, string, RegExp][] = [
    ['nothing pending', {}, [running], false, 'ok', /^no reboot pending \(kernel 6.1.0-26-amd64\)/],
    ['the flag with its packages', { 'reboot-required': '', 'reboot-required.pkgs': 'libc6\nlinux-image-6.1.0-27-amd64\nlibc6\n' }, [running], false, 'warn', /^a reboot is pending: libc6, linux-image-6.1.0-27-amd64 \(\/run\/reboot-required\); reboot in a maintenance window/],
    ['the flag alone', { 'reboot-required': '' }, [running], false, 'warn', /pending: \/run\/reboot-required is set/],
    ['a newer kernel installed (Debian, no flag)', {}, ['6.1.0-9-amd64', running, '6.1.0-27-amd64'], false, 'warn', /pending: kernel 6.1.0-27-amd64 is installed, 6.1.0-26-amd64 is running/],
    ['an older kernel left installed is not a reason', {}, ['6.1.0-9-amd64', running], false, 'ok', /no reboot pending/],
    ['in a container the kernel is the machine\'s: not compared', {}, ['6.1.0-27-amd64'], true, 'ok', /no reboot pending/],
  ];
  for (const [name, files, kernels, container, status, message] of cases) {
    it(`${name} → ${status}`, () => {
      const g = gradeReboot(rebootFacts({ ...machine(files, kernels), running, container }));
      assert.equal(g.status, status);
      assert.match(g.message, message);
    });
  }
  it('kernel versions sort as dpkg sorts them', () => assert.deepEqual(['6.1.0-27-amd64', '6.1.0-9-amd64', '6.10.0-1-amd64', '6.1.0-26-amd64'].sort(compareVersions), ['6.1.0-9-amd64', '6.1.0-26-amd64', '6.1.0-27-amd64', '6.10.0-1-amd64']));
});

describe('system check in a container (the sandbox shares the kernel): the machine being busy is reported, not judged', () => {
  const options = { memoryWarnPercent: 1, memoryCriticalPercent: 2, cpuWarnPercent: 1, cpuCriticalPercent: 2, loadWarnPerCore: 0.0001, loadCriticalPerCore: 0.0002, ...limits };
  const sources = (container: string | undefined) => ({ container: () => container, reboot: () => ({ flagged: false, packages: [], running: 'k' }), clock: async (): Promise<ClockFacts> => ({ source: 'none', synchronized: undefined, offsetMs: undefined }) });

  it('on a VM, thresholds this low are crossed: memory and load critical, no time sync warns', async () => {
    const rs = await new SystemCheck(options, sources(undefined)).run();
    const by = Object.fromEntries(rs.map((r) => [r.target, r.status]));
    assert.equal(by['memory'], 'critical');
    assert.equal(by['load'], 'critical');
    assert.equal(by['clock'], 'warn');
  });

  it('in a container: memory, CPU, load and the clock are skipped with their figures and the reason; the reboot is still judged', async () => {
    const rs = await new SystemCheck(options, sources('systemd-nspawn')).run();
    for (const target of ['memory', 'cpu', 'load', 'clock']) {
      const r = rs.find((x) => x.target === target);
      assert.equal(r?.status, 'skipped', target);
      assert.match(r?.message ?? '', /not judged: this host is a systemd-nspawn container/);
    }
    assert.equal(typeof rs.find((x) => x.target === 'memory')?.values['usedPercent'], 'number', 'the figures are still there');
    assert.equal(rs.find((x) => x.target === 'reboot')?.status, 'ok');
  });
});
