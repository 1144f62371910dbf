import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AlertKind } from '../lib/alerting/state-machine.js';
import type { CheckResult } from '../lib/checks/result.js';

const STATUS_VALUE = { ok: 0, warn: 1, critical: 2, skipped: -1 } as const;

/** The daemon's own Prometheus metrics: each check's status, values and duration; alerts sent and failed. */
export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly status = new Gauge({ name: 'rtcops_health_check_status', help: 'Last result per check target: 0 ok, 1 warn, 2 critical, -1 not applicable', labelNames: ['check', 'target'], registers: [this.registry] });
  private readonly value = new Gauge({ name: 'rtcops_health_check_value', help: 'Numeric values measured by the last run, by name', labelNames: ['check', 'target', 'name'], registers: [this.registry] });
  private readonly duration = new Histogram({ name: 'rtcops_health_check_duration_seconds', help: 'How long a check run took', labelNames: ['check'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry] });
  private readonly lastRun = new Gauge({ name: 'rtcops_health_check_last_run_timestamp_seconds', help: 'When the check last finished', labelNames: ['check'], registers: [this.registry] });
  private readonly runs = new Counter({ name: 'rtcops_health_check_results_total', help: 'Check results by status', labelNames: ['check', 'status'], registers: [this.registry] });
  private readonly sent = new Counter({ name: 'rtcops_health_alerts_sent_total', help: 'Alerts delivered', labelNames: ['provider', 'kind'], registers: [this.registry] });
  private readonly failed = new Counter({ name: 'rtcops_health_alerts_failed_total', help: 'Alert delivery attempts that failed', labelNames: ['provider', 'kind'], registers: [this.registry] });

  private readonly heartbeats = new Counter({ name: 'rtcops_health_heartbeats_total', help: 'Heartbeat pushes (alerting.heartbeat) by result', labelNames: ['result'], registers: [this.registry] });

  heartbeat(result: 'sent' | 'failed'): void {
    this.heartbeats.inc({ result });
  }

  record(results: CheckResult[]): void {
    const first = results[0];
    if (first === undefined) return;
    this.duration.observe({ check: first.check }, first.durationMs / 1000);
    this.lastRun.set({ check: first.check }, Date.parse(first.at) / 1000);
    for (const r of results) {
      this.status.set({ check: r.check, target: r.target }, STATUS_VALUE[r.status]);
      this.runs.inc({ check: r.check, status: r.status });
      for (const [name, v] of Object.entries(r.values)) {
        if (typeof v === 'number' && Number.isFinite(v)) this.value.set({ check: r.check, target: r.target, name }, v);
        else if (typeof v === 'boolean') this.value.set({ check: r.check, target: r.target, name }, v ? 1 : 0);
      }
    }
  }

  alertSent(provider: string, kind: AlertKind): void {
    this.sent.inc({ provider, kind });
  }

  alertFailed(provider: string, kind: AlertKind): void {
    this.failed.inc({ provider, kind });
  }
}
