import type { ChecksConfig, DaemonSecrets } from '../config.js';
import { DiskCheck } from './disk.js';
import { MediaProbeCheck } from './media-probe.js';
import { Pm2Check } from './pm2.js';
import type { Check } from './result.js';
import { ServerCheck } from './server.js';
import { ServicesCheck } from './services.js';
import { SystemCheck } from './system.js';
import { TlsExpiryCheck } from './tls-expiry.js';
import { TurnCheck } from './turn.js';

export interface ScheduledCheck {
  check: Check;
  schedule: string;
  timeoutMs: number;
}

/** One check per configured section; secrets were checked present by secretsFromEnv. */
export function buildChecks(c: ChecksConfig, s: DaemonSecrets): ScheduledCheck[] {
  const out: ScheduledCheck[] = [];
  const add = (cfg: { schedule: string; timeoutMs: number }, check: Check) => out.push({ check, schedule: cfg.schedule, timeoutMs: cfg.timeoutMs });
  const secret = (v: string | undefined) => v ?? '';
  if (c['tls-expiry']) add(c['tls-expiry'], new TlsExpiryCheck({ ...c['tls-expiry'], connectTimeoutMs: Math.min(5000, c['tls-expiry'].timeoutMs) }));
  if (c.disk) add(c.disk, new DiskCheck(c.disk));
  if (c.system) add(c.system, new SystemCheck(c.system));
  if (c.turn) add(c.turn, new TurnCheck({ ...c.turn, secret: secret(s.turnSecret) }));
  if (c.server) add(c.server, new ServerCheck({ ...c.server, adminToken: secret(s.adminToken), jwtSecret: secret(s.jwtSecret) }));
  if (c.pm2) add(c.pm2, new Pm2Check(c.pm2));
  if (c.services) add(c.services, new ServicesCheck(c.services.units));
  if (c['media-probe']) add(c['media-probe'], new MediaProbeCheck({ ...c['media-probe'], jwtSecret: secret(s.jwtSecret), turnSecret: s.turnSecret }));
  return out;
}
