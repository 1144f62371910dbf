import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HostState, SlotProc } from '../../../lib/deploy/host-state.js';
import { repairPlan, type Killed } from '../../../lib/deploy/repair.js';
import { pm2RestartLogScript, restartCause } from '../../../lib/deploy/slots.js';
import { deployHost } from '../../../lib/deploy/engine.js';
import { layoutOf } from '../../../lib/host/index.js';
import { RecordingRunner } from '../../../lib/runner/index.js';
import { exampleHost, fakeSecrets } from '../../fixtures/inventories/hosts.js';

/**
 * A rollback from R2 (slot a) to R1 (slot b) killed with SIGKILL in each phase, and the host as that kill leaves it:
 * what the next deploy that breaks the lock does first.
 */
const host = exampleHost('sandbox');
const proc = (slot: 'a' | 'b', id: string, status = 'online'): SlotProc => ({ name: `rtcops-${slot}`, pid: slot === 'a' ? 5 : 6, status, restarts: 0, cwd: `/srv/rtcops/releases/${id}` });
const hostAs = (live: 'a' | 'b', current: string, procs: SlotProc[], previous = 'R0'): HostState => ({
  releases: [{ id: 'R0' }, { id: 'R1' }, { id: 'R2' }], current, previous, freeKb: 1e7, memAvailableKb: 1e6,
  live: host.app.slots[live], idle: host.app.slots[live === 'a' ? 'b' : 'a'], procs, serving: procs.find((p) => p.name === `rtcops-${live}`),
});
const killedIn = (phase: string): Killed => ({ action: 'rollback', by: 'ann@laptop', at: '2026-12-01T10:00:00Z', phase, release: 'R1', from: 'R2', previous: 'R0', live: 'a', idle: 'b' });
const untouched = hostAs('a', 'R2', [proc('a', 'R2')]);
const startedInB = hostAs('a', 'R2', [proc('a', 'R2'), proc('b', 'R1')]);
const callersOnB = hostAs('b', 'R1', [proc('a', 'R2'), proc('b', 'R1')], 'R2');

describe('after a deploy killed in any phase, the next one (--force-unlock) finds the host as the kill left it and repairs it', () => {
  for (const [phase, state, kind, detail] of [
    ['lock', untouched, 'none', /had not named its release yet: nothing had started/],
    ['check-config', untouched, 'none', /never reached a caller, and nothing of it runs: nothing to repair/],
    ['start', startedInB, 'tidy', /never reached a caller: R1 stopped in rtcops-b \(it was left running\)/],
    ['gate', startedInB, 'tidy', /never reached a caller: R1 stopped in rtcops-b/],
    // Killed between nginx's reload and the `current` link: callers are on slot b, `current` still says R2.
    ['switch', hostAs('b', 'R2', [proc('a', 'R2'), proc('b', 'R1')]), 'switch-back', /had switched callers to R1 before its watch ended: nginx back to R2 \(slot a, still running\), which passes the gate again; R1 stopped/],
    ['watch', callersOnB, 'switch-back', /nginx back to R2 \(slot a, still running\)/],
    // The host rebooted after the kill: PM2's saved list (slot a only) came back, nginx still names slot b.
    ['watch', hostAs('b', 'R1', [proc('a', 'R2')], 'R2'), 'switch-back', /nginx back to R2/],
    ['watch', hostAs('b', 'R1', [proc('b', 'R1')], 'R2'), 'keep', /R2 no longer runs: R1 keeps serving; it is not recorded as a release that served/],
    // A failed watch was switching back when it was killed: nginx already back on slot a, `current` not yet.
    ['switch back', hostAs('a', 'R1', [proc('a', 'R2'), proc('b', 'R1')], 'R2'), 'tidy', /current back to R2, R1 stopped in rtcops-b/],
    ['verify previous', startedInB, 'tidy', /R1 stopped in rtcops-b/],
    ['stop new', untouched, 'none', /nothing to repair/],
    ['save', callersOnB, 'save', /had kept R1 after its gate and watch: PM2's list saved again/],
    ['drain', callersOnB, 'none', /had kept R1 after its gate and watch: nothing to repair/],
    ['stop old', hostAs('b', 'R1', [proc('b', 'R1')], 'R2'), 'none', /nothing to repair/],
    ['prune', hostAs('b', 'R1', [proc('b', 'R1')], 'R2'), 'none', /nothing to repair/],
  ] as const) {
    test(`killed in ${phase}${state.procs.length === 1 && state.live.name === 'b' && phase === 'watch' ? (state.procs[0]?.name === 'rtcops-a' ? ' (then a reboot)' : ' (R2 gone)') : ''}: ${kind}`, () => {
      const killed = phase === 'lock' ? { ...killedIn(phase), release: undefined } : killedIn(phase);
      const plan = repairPlan(host, killed, state);
      assert.equal(plan.kind, kind, plan.detail);
      assert.match(plan.detail, detail);
      assert.match(plan.detail, /^the killed rollback (of R1 )?\(by ann@laptop at 2026-12-01T10:00:00Z, last phase /, 'names what was killed, by whom, when');
      if (plan.kind === 'switch-back') assert.deepEqual([plan.to, plan.slot.name, plan.previous, plan.stop], ['R2', 'a', 'R0', 'rtcops-b']);
    });
  }
});

test('a rollback with --force-unlock after one killed in its watch: nginx back to R2 and checked, R1 stopped, then its own work from the repaired host', async () => {
  const lock = layoutOf(host).lock;
  const stale = JSON.stringify({ token: 'old', ...killedIn('watch'), holderPid: 999 });
  let record: string | undefined;
  let port = 3001;
  const r = new RecordingRunner(host.name, [
    ['RTCOPS_LOCK', (c) => { record = /json='([^']*)'/.exec(c.text)?.[1]; return {}; }],
    [`cat ${lock}`, () => ({ stdout: record === undefined ? stale : record.replace(/\}$/, ',"holderPid":4242}') })],
    ['systemctl reload nginx', (c) => { port = /3000/.test(c.text) ? 3000 : 3001; return {}; }],
    ['missing=()', () => ({ stdout: JSON.stringify({ releases: [{ id: 'R0' }, { id: 'R1' }, { id: 'R2' }], current: port === 3001 ? 'R1' : 'R2', previous: port === 3001 ? 'R2' : 'R0', freeKb: 10_000_000, missing: [] }) })],
    ['grep -o', () => ({ stdout: JSON.stringify({ port, procs: [proc('a', 'R2'), ...(port === 3001 ? [proc('b', 'R1')] : [])] }) })],
    // Slot a answers its checks; whatever starts in slot b errors (the rollback's own gate fails, that is not the point here).
    ['rtcops-a', { stdout: JSON.stringify({ pm2: { pid: 5, status: 'online', restarts: 0 }, cwd: '/srv/rtcops/releases/R2', healthz: { code: 200, body: '' }, readyz: { code: 200, body: '' } }) }],
    ['healthz', { stdout: JSON.stringify({ pm2: { pid: 7, status: 'errored', restarts: 0 }, cwd: '', healthz: { code: 0, body: '' }, readyz: { code: 0, body: '' } }) }],
    ['--input-type=module', { stdout: '{"ok":true,"ports":[40100,40101]}\n' }],
  ]);
  const report = await deployHost(host, fakeSecrets(host), { action: 'rollback', to: 'R0', forceUnlock: true, connect: r.connect, timing: { gateTimeoutMs: 500, watchMs: 0, pollMs: 10 } });
  const calls = r.calls.filter((c) => c.summary !== 'record the deploy phase').map((c) => c.summary);
  assert.match(report.repaired ?? '', /the killed rollback of R1 .*had switched callers to R1 before its watch ended: nginx back to R2/);
  assert.deepEqual(report.phases.slice(0, 6).map((p) => `${p.phase}:${p.status}`), ['lock:ok', 'state:ok', 'repair:ok', 'verify repaired:ok', 'stop killed:ok', 'state:ok']);
  const at = calls.indexOf('nginx to slot a');
  assert.deepEqual(calls.slice(at, at + 6), ['nginx to slot a', 'switch current to R2', 'loopback health', 'signaling round trip on slot a', 'pm2 delete rtcops-b', 'read the releases']);
  // From the repaired host: R2 serves in slot a, so R0 goes to slot b.
  assert.equal(report.from, 'R2');
  assert.ok(calls.includes('link slot b to R0'), calls.join('\n'));
  const switchBack = r.calls.find((c) => c.summary === 'switch current to R2');
  assert.match(switchBack?.text ?? '', /releases\/R0/, 'previous back to what it was before the killed rollback (R0), not R1');
});

describe('why PM2 restarted a release during its watch, from PM2\'s own log', () => {
  test('the memory limit, with the figures', () => {
    const lines = ['2026-12-07T10:00:01: PM2 log: App [rtcops-b:3] starting in -fork mode-', '2026-12-07T10:00:09: PM2 log: [PM2][WORKER] Process 3 restarted because it exceeds --max-memory-restart value (current_memory=545259520 max_memory_limit=524288000 [octets])'];
    assert.equal(restartCause(lines), 'PM2 restarted it for its memory: 520 MB, over the limit of 500 MB (pm2.maxMemoryRestart)');
  });
  test('an exit: the code and the signal', () => {
    assert.equal(restartCause(['2026-12-07T10:00:05: PM2 log: App [rtcops-b:3] exited with code [1] via signal [SIGINT]']), 'it exited with code 1 (signal SIGINT), and PM2 restarted it');
  });
  test('nothing PM2 said about it: no cause is made up', () => {
    assert.equal(restartCause(['2026-12-07T10:00:05: PM2 log: App [rtcops-b:3] online', '']), undefined);
  });
  test('the log is read for that process only (its pm_id and name), quoted', () => {
    const script = pm2RestartLogScript(host, 3, 'rtcops-b');
    assert.match(script, /grep -a -F -e 'Process 3 restarted because' -e '\[rtcops-b:3\]'/);
    assert.match(script, /\/home\/rtcops\/\.pm2\/pm2\.log/);
  });
});
