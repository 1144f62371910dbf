import { readFileSync } from 'node:fs';
import type { MaintenanceWindow } from './maintenance.js';

/**
 * What a deploy leaves on the host for the health daemon (lib/deploy writes it, the daemon reads it): while a deploy
 * runs, its restarts and its health gate's blips are expected. `until` is the deploy's budget while it runs and the
 * time it ended afterwards, so a killed deploy silences no longer than its budget.
 */
export interface DeployMarker {
  release: string;
  by: string;
  from: string;
  until: string;
}

/** The marker, or undefined when there is none or it cannot be read (never a reason to stop checking). */
export function readDeployMarker(file: string | undefined): DeployMarker | undefined {
  if (file === undefined) return undefined;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Partial<DeployMarker>;
    if (typeof m.from !== 'string' || typeof m.until !== 'string' || Number.isNaN(Date.parse(m.from)) || Number.isNaN(Date.parse(m.until))) return undefined;
    return { release: String(m.release ?? '?'), by: String(m.by ?? '?'), from: m.from, until: m.until };
  } catch {
    return undefined;
  }
}

/** The marker as a maintenance window: alerts wait while a deploy runs (checks keep running; resolutions still go out). */
export function deployWindow(m: DeployMarker | undefined): MaintenanceWindow[] {
  return m === undefined ? [] : [{ from: m.from, until: m.until }];
}

/** Reads the marker at most once a second: the alerter asks for every result. */
export function cachedDeployWindows(file: string | undefined, clock: () => number = Date.now): () => MaintenanceWindow[] {
  let at = -Infinity;
  let windows: MaintenanceWindow[] = [];
  return () => {
    if (clock() - at >= 1000) {
      windows = deployWindow(readDeployMarker(file));
      at = clock();
    }
    return windows;
  };
}
