/**
 * Which backups to keep: the newest backup of each of the last N days, N ISO weeks and N months that have a backup
 * (the grandfather-father-son scheme restic and borg use), and always the newest one. Pure: the caller deletes.
 */
export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
}

/** The seed's schedule: a week of dailies, 4 weekly and 3 monthly restore points. */
export const DEFAULT_RETENTION: RetentionPolicy = { daily: 7, weekly: 4, monthly: 3 };

export interface Dated {
  at: Date;
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const month = (d: Date) => d.toISOString().slice(0, 7);

/** ISO 8601 week (UTC): weeks start on Monday, week 1 holds the year's first Thursday. */
export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - dow);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

export function retain<T extends Dated>(items: T[], policy: RetentionPolicy): { keep: T[]; drop: T[] } {
  const newestFirst = [...items].sort((a, b) => b.at.getTime() - a.at.getTime());
  const kept = new Set<T>(newestFirst.slice(0, 1));
  for (const [count, period] of [[policy.daily, day], [policy.weekly, isoWeek], [policy.monthly, month]] as const) {
    const seen = new Set<string>();
    for (const item of newestFirst) {
      if (seen.size >= count) break;
      const key = period(item.at);
      if (seen.has(key)) continue;
      seen.add(key);
      kept.add(item);
    }
  }
  return { keep: newestFirst.filter((i) => kept.has(i)), drop: newestFirst.filter((i) => !kept.has(i)) };
}
