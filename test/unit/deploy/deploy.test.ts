import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { UsageError } from '../../../lib/cli.js';
import { deployMain, rollbackMain } from '../../../lib/deploy/command.js';
import { receiveArgv, switchScript } from '../../../lib/deploy/commands.js';
import { collapseRepeats } from '../../../lib/deploy/failure.js';
import { holderScript, type LockRecord } from '../../../lib/deploy/lock.js';
import { releaseId, releasesToPrune, rollbackTarget } from '../../../lib/deploy/release.js';
import { loadInventory, selectHost, type ResolvedHost } from '../../../lib/inventory/index.js';
import { EXAMPLE_INVENTORY } from '../../fixtures/inventories/hosts.js';

const host = selectHost(loadInventory(EXAMPLE_INVENTORY), 'sandbox');
const io = { out: () => undefined, err: () => undefined };

describe('release ids', () => {
  test('time then the short sha, sortable by age', () => {
    assert.equal(releaseId(new Date('2025-01-02T03:04:05.678Z'), '0123456789abcdef0123'), '20250102T030405Z-0123456789ab');
  });
});

describe('pruning keeps N releases, never current or previous', () => {
  const ids = ['20250101T000000Z-a', '20250102T000000Z-b', '20250103T000000Z-c', '20250104T000000Z-d', '20250105T000000Z-e'];
  const cases: [what: string, keep: number, protect: (string | undefined)[], pruned: string[]][] = [
    ['nothing to do under the limit', 5, [ids[4]], []],
    ['the oldest go first', 3, [ids[4], ids[3]], [ids[0]!, ids[1]!]],
    ['an old current and previous stay', 3, [ids[0], ids[1]], [ids[2]!, ids[3]!]],
    ['no current yet', 2, [undefined], [ids[0]!, ids[1]!, ids[2]!]],
  ];
  for (const [what, keep, protect, pruned] of cases) test(what, () => assert.deepEqual(releasesToPrune(ids, keep, protect), pruned));
});

describe('where a rollback without --to goes', () => {
  const r = (id: string, failed?: string) => ({ id, ...(failed !== undefined ? { failed } : {}) });
  const cases: [what: string, state: Parameters<typeof rollbackTarget>[0], target: string | undefined][] = [
    ['the previous release', { releases: [r('1'), r('2'), r('3')], current: '3', previous: '1' }, '1'],
    ['previous = current (after a restore): the newest older good one', { releases: [r('1'), r('2', 'gate'), r('3')], current: '3', previous: '3' }, '1'],
    ['no previous link', { releases: [r('1'), r('2')], current: '2', previous: undefined }, '1'],
    ['nothing older', { releases: [r('1')], current: '1', previous: undefined }, undefined],
  ];
  for (const [what, state, target] of cases) test(what, () => assert.equal(rollbackTarget(state), target));
});

describe('remote commands as values', () => {
  test('the switch renames a new symlink over current and sets previous', () => {
    const s = switchScript(host, 'B', 'A');
    assert.match(s, /ln -sfn \/srv\/rtcops\/releases\/A \/srv\/rtcops\/previous\.tmp && mv -T \/srv\/rtcops\/previous\.tmp \/srv\/rtcops\/previous/);
    assert.match(s, /ln -sfn \/srv\/rtcops\/releases\/B \/srv\/rtcops\/current\.tmp && mv -T \/srv\/rtcops\/current\.tmp \/srv\/rtcops\/current$/);
    assert.match(switchScript(host, 'A', undefined), /^rm -f \/srv\/rtcops\/previous$/m);
  });
  test('the upload unpacks beside the releases and renames into place; metadata is an argument, not code', () => {
    const argv = receiveArgv(host, 'ID', { by: "o'brien" });
    assert.deepEqual(argv.slice(0, 2), ['bash', '-c']);
    assert.deepEqual(argv.slice(3), ['receive', '/srv/rtcops/releases', 'ID', '{"by":"o\'brien"}']);
    assert.match(argv[2]!, /mv -T "\$tmp" "\$rel\/\$id"/);
  });
  test('a crash loop\'s repeated lines are kept once, with a count', () => {
    assert.deepEqual(collapseRepeats(['a', 'b', 'b', 'b', 'a']), ['a', 'b (×3)', 'a']);
  });
});

describe('command lines', () => {
  const usage = async (p: Promise<number>, message: RegExp) => assert.rejects(p, (e: Error) => e instanceof UsageError && message.test(e.message));
  test('deploy needs a host', () => usage(deployMain([], io), /name a host or group/));
  test('--ref and --artifact exclude each other', () => usage(deployMain(['sandbox', '--ref', 'HEAD', '--artifact', 'x.tgz'], io), /--ref or --artifact, not both/));
  test('rollback --to takes a release id', () => usage(rollbackMain(['sandbox', '--to', '../etc'], io), /is not a release id/));
  test('unknown options are usage errors', () => usage(deployMain(['sandbox', '--nope'], io), /nope/));
});

describe('the lock holder script (run locally: flock, stale record, --force-unlock)', () => {
  const root = mkdtempSync(join(tmpdir(), 'rtcops-lock-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const local: ResolvedHost = { ...host, app: { ...host.app, root } };
  const record = (token: string): LockRecord => ({ token, by: 'test@here', action: 'deploy', at: '2025-01-01T00:00:00Z' });
  const start = (token: string, force = false): ChildProcessWithoutNullStreams => {
    const p = spawn('bash', ['-s'], { stdio: 'pipe' });
    p.stdin.end(`set -euo pipefail\n${holderScript(local, record(token), force)}\n`);
    return p;
  };
  const firstLine = (p: ChildProcessWithoutNullStreams) => new Promise<string>((resolve) => {
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.once('exit', () => resolve(out.split('\n')[0] ?? ''));
  });
  const waitFor = async (fn: () => boolean) => {
    for (let i = 0; i < 100 && !fn(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(fn());
  };
  const lockFile = join(root, '.deploy.lock');
  const readRecord = () => { try { return JSON.parse(readFileSync(lockFile, 'utf8')) as LockRecord; } catch { return undefined; } };

  test('held, busy for others, stale once its channel closes, taken over only with force', async () => {
    const a = start('a');
    await waitFor(() => readRecord()?.token === 'a');
    assert.equal(typeof readRecord()?.holderPid, 'number');
    assert.equal(await firstLine(start('b')), 'RTCOPS_LOCK busy');
    // What a killed deploy looks like on the host: the holder's channel closes, its next write fails.
    a.stdout.destroy();
    await new Promise((r) => a.once('exit', r));
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await firstLine(start('c')), 'RTCOPS_LOCK stale');
    const d = start('d', true);
    await waitFor(() => readRecord()?.token === 'd');
    d.kill();
    await new Promise((r) => d.once('exit', r));
  });
});
