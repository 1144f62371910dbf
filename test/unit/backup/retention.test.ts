import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { archiveName, archiveTime } from '../../../lib/backup/archive.js';
import { isoWeek, retain, type RetentionPolicy } from '../../../lib/backup/retention.js';

const at = (s: string) => ({ name: s, at: new Date(s) });
const kept = (items: { name: string; at: Date }[], p: RetentionPolicy) => retain(items, p).keep.map((i) => i.name);

/** One backup a day at 03:00 UTC for `days` days ending on `last`. */
function daily(last: string, days: number): { name: string; at: Date }[] {
  const end = new Date(last).getTime();
  return Array.from({ length: days }, (_, i) => { const d = new Date(end - i * 86_400_000); return { name: d.toISOString().slice(0, 10), at: d }; });
}

describe('retention: keep N daily / weekly / monthly, delete the rest', () => {
  it('ISO weeks: Monday starts a week; the first Thursday is in week 1', () => {
    assert.equal(isoWeek(new Date('2025-01-01T00:00:00Z')), '2025-W01');
    assert.equal(isoWeek(new Date('2024-12-30T00:00:00Z')), '2025-W01');
    assert.equal(isoWeek(new Date('2021-01-03T23:59:59Z')), '2020-W53');
    assert.equal(isoWeek(new Date('2025-06-15T12:00:00Z')), '2025-W24');
    assert.equal(isoWeek(new Date('2025-06-16T00:00:00Z')), '2025-W25');
  });

  it('nothing to keep from nothing', () => {
    assert.deepEqual(retain([], { daily: 7, weekly: 4, monthly: 3 }), { keep: [], drop: [] });
  });

  it('the newest backup is always kept, even with every count at 0', () => {
    assert.deepEqual(kept([at('2025-06-01T03:00:00Z'), at('2025-06-02T03:00:00Z')], { daily: 0, weekly: 0, monthly: 0 }), ['2025-06-02T03:00:00Z']);
  });

  it('several backups on one day: only that day\'s newest counts as its daily', () => {
    const items = [at('2025-06-02T03:00:00Z'), at('2025-06-02T15:00:00Z'), at('2025-06-01T03:00:00Z')];
    assert.deepEqual(kept(items, { daily: 2, weekly: 0, monthly: 0 }), ['2025-06-02T15:00:00Z', '2025-06-01T03:00:00Z']);
  });

  it('90 days of dailies with 7/4/3: 7 days, the last day of 4 ISO weeks, the last day of 3 months (overlaps counted once)', () => {
    const { keep, drop } = retain(daily('2025-06-30T03:00:00Z', 90), { daily: 7, weekly: 4, monthly: 3 });
    assert.deepEqual(keep.map((k) => k.name), [
      '2025-06-30', '2025-06-29', '2025-06-28', '2025-06-27', '2025-06-26', '2025-06-25', '2025-06-24', // 7 days (06-29 also ends W26)
      '2025-06-22', '2025-06-15', // the Sundays ending W25, W24 (W27 started 06-30, W26 ended 06-29)
      '2025-05-31', '2025-04-30', // months: June (06-30, kept), May, April
    ]);
    assert.equal(keep.length + drop.length, 90);
  });

  it('gaps: a week without backups does not use up a weekly slot', () => {
    const items = [at('2025-06-30T03:00:00Z'), at('2025-06-16T03:00:00Z'), at('2025-06-02T03:00:00Z'), at('2025-05-19T03:00:00Z')];
    assert.deepEqual(kept(items, { daily: 0, weekly: 3, monthly: 0 }), ['2025-06-30T03:00:00Z', '2025-06-16T03:00:00Z', '2025-06-02T03:00:00Z']);
  });

  it('order of the input does not matter', () => {
    const items = daily('2025-06-30T03:00:00Z', 20);
    const p = { daily: 3, weekly: 2, monthly: 1 };
    assert.deepEqual(kept([...items].reverse(), p), kept(items, p));
  });
});

describe('archive names carry their UTC time', () => {
  it('name and time round-trip; other files are not archives', () => {
    const t = new Date('2025-06-30T03:04:05.678Z');
    assert.equal(archiveName('rtcops', 'prod-a', t), 'rtcops-prod-a-20250630T030405Z.tar.gz');
    assert.deepEqual(archiveTime('rtcops-prod-a-20250630T030405Z.tar.gz'), new Date('2025-06-30T03:04:05Z'));
    assert.equal(archiveTime('rtcops-prod-a-20250630T030405Z.tar.gz.sha256'), undefined);
    assert.equal(archiveTime('notes.txt'), undefined);
    assert.equal(archiveTime('rtcops-prod-a-20251399T030405Z.tar.gz'), undefined);
  });
});
