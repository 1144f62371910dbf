/**
 * Windows during which alerts are not sent (checks still run and counters still move):
 * a one-off window (from/until, ISO times) or a weekly one (days, start "HH:MM" UTC, durationMin).
 * `checks` limits a window to some check names; absent means every check.
 */
export type MaintenanceWindow =
  | { from: string; until: string; checks?: string[] | undefined }
  | { days: Day[]; start: string; durationMin: number; checks?: string[] | undefined };

export const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Day = (typeof DAYS)[number];

const DAY_MS = 86_400_000;

function inWeekly(w: { days: Day[]; start: string; durationMin: number }, now: Date): boolean {
  const [h, m] = w.start.split(':').map(Number) as [number, number];
  // A window may cross midnight: look at today's and the previous days' starts.
  for (let back = 0; back <= Math.ceil(w.durationMin / 1440); back++) {
    const day = new Date(now.getTime() - back * DAY_MS);
    const start = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), h, m);
    const dayName = DAYS[new Date(start).getUTCDay()] as Day;
    if (w.days.includes(dayName) && now.getTime() >= start && now.getTime() < start + w.durationMin * 60_000) return true;
  }
  return false;
}

export function inMaintenance(windows: readonly MaintenanceWindow[], check: string, now: Date): boolean {
  return windows.some((w) => {
    if (w.checks !== undefined && !w.checks.includes(check)) return false;
    if ('from' in w) return now.getTime() >= Date.parse(w.from) && now.getTime() < Date.parse(w.until);
    return inWeekly(w, now);
  });
}
