import { request, type Dispatcher } from 'undici';
import type { CheckResult } from '../checks/result.js';

/**
 * A dead-man switch: the daemon pushes to a URL (healthchecks.io, Uptime Kuma push monitors, cronitor) on a schedule,
 * and that service alerts when pushes stop: the host died, the daemon died or the network was cut. The URL is a
 * secret (it names the monitor); nothing here logs or returns it.
 */
export interface HeartbeatOptions {
  url: string;
  method: 'GET' | 'POST';
  timeoutMs: number;
  host: string;
  dispatcher?: Dispatcher | undefined;
}

/** What a POST carries: who is alive and how its last results stand (counts, no messages). */
export function heartbeatBody(host: string, latest: Iterable<CheckResult>, now: Date): Record<string, unknown> {
  const counts = { ok: 0, warn: 0, critical: 0, skipped: 0 };
  for (const r of latest) counts[r.status]++;
  return { source: 'rtcops-health', host, at: now.toISOString(), results: counts };
}

/** One push; resolves with 'sent' or the reason it failed (a status or an error code, never the URL). */
export async function pushHeartbeat(o: HeartbeatOptions, latest: Iterable<CheckResult>, now = new Date()): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const res = await request(o.url, {
      method: o.method,
      reset: true,
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
      signal: AbortSignal.timeout(o.timeoutMs),
      ...(o.method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(heartbeatBody(o.host, latest, now)) } : {}),
      ...(o.dispatcher === undefined ? {} : { dispatcher: o.dispatcher }),
    });
    await res.body.dump();
    return res.statusCode >= 200 && res.statusCode < 300 ? { ok: true } : { ok: false, reason: `HTTP ${res.statusCode}` };
  } catch (error) {
    return { ok: false, reason: (error as { code?: string }).code ?? (error as Error).name };
  }
}
