import { mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AlertState } from './state-machine.js';

interface StateFile {
  version: 1;
  alerts: Record<string, AlertState>;
}

/** Alert state on disk, so a restart neither loses an open alert nor sends it again. */
export class AlertStore {
  private readonly alerts: Map<string, AlertState>;

  constructor(readonly file: string) {
    this.alerts = new Map(Object.entries(AlertStore.read(file)));
  }

  private static read(file: string): Record<string, AlertState> {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
    const parsed = JSON.parse(text) as Partial<StateFile>;
    if (parsed.version !== 1 || typeof parsed.alerts !== 'object' || parsed.alerts === null) throw new Error(`${file} is not an alert state file (version 1); move it away to start with no open alerts`);
    return parsed.alerts;
  }

  get(key: string): AlertState | undefined {
    return this.alerts.get(key);
  }

  entries(): [string, AlertState][] {
    return [...this.alerts.entries()];
  }

  /** Replace one alert's state and write the whole file atomically (temp file, fsync, rename). */
  set(key: string, state: AlertState): void {
    this.alerts.set(key, state);
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const body: StateFile = { version: 1, alerts: Object.fromEntries(this.alerts) };
    writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}
