import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Check, Outcome } from './result.js';

/** `systemctl is-active a b c` prints one state per unit, in order; anything but "active" is a problem. */
export function gradeServices(units: string[], stdout: string): Outcome[] {
  const states = stdout.trim().split('\n');
  return units.map((unit, i) => {
    const state = states[i]?.trim() || 'unknown';
    return {
      check: 'services', target: unit, values: { state },
      status: state === 'active' ? 'ok' : 'critical',
      message: state === 'active' ? `${unit} is active` : `${unit} is ${state}: systemctl status ${unit}; journalctl -u ${unit}`,
    };
  });
}

/** nginx, coturn, fail2ban and the certbot renewal timer are active; not applicable without systemd. */
export class ServicesCheck implements Check {
  readonly name = 'services';

  constructor(readonly targets: string[], private readonly systemdDir = '/run/systemd/system') {}

  async run(): Promise<Outcome[]> {
    if (!existsSync(this.systemdDir)) {
      return this.targets.map((unit) => ({ check: this.name, target: unit, status: 'skipped' as const, message: 'not applicable: systemd is not running on this machine', values: {} }));
    }
    // is-active exits non-zero when any unit is inactive; its output is what counts.
    const stdout = await new Promise<string>((resolve) => execFile('systemctl', ['is-active', ...this.targets], { timeout: 8000 }, (_err, out) => resolve(String(out))));
    return gradeServices(this.targets, stdout);
  }
}
