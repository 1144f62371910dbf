import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inMaintenance, type MaintenanceWindow } from '../../../lib/alerting/maintenance.js';

const oneOff: MaintenanceWindow = { from: '2026-11-22T10:00:00Z', until: '2026-11-22T11:00:00Z' };
// 2026-11-22 is a Sunday.
const sundayNight: MaintenanceWindow = { days: ['sun'], start: '23:30', durationMin: 60 };
const tlsOnly: MaintenanceWindow = { from: '2026-11-22T10:00:00Z', until: '2026-11-22T11:00:00Z', checks: ['tls-expiry'] };

describe('maintenance windows', () => {
  const cases: [string, MaintenanceWindow, string, string, boolean][] = [
    ['inside a one-off window', oneOff, 'disk', '2026-11-22T10:30:00Z', true],
    ['the end of a one-off window is outside', oneOff, 'disk', '2026-11-22T11:00:00Z', false],
    ['before a one-off window', oneOff, 'disk', '2026-11-22T09:59:59Z', false],
    ['weekly window on its day', sundayNight, 'turn', '2026-11-22T23:45:00Z', true],
    ['weekly window crossing midnight, on the next day', sundayNight, 'turn', '2026-11-23T00:15:00Z', true],
    ['weekly window over', sundayNight, 'turn', '2026-11-23T00:30:00Z', false],
    ['weekly window on another day', sundayNight, 'turn', '2026-11-24T23:45:00Z', false],
    ['window limited to other checks', tlsOnly, 'disk', '2026-11-22T10:30:00Z', false],
    ['window limited to this check', tlsOnly, 'tls-expiry', '2026-11-22T10:30:00Z', true],
  ];
  for (const [name, w, check, at, expected] of cases) it(name, () => assert.equal(inMaintenance([w], check, new Date(at)), expected));
});
