import type { ResolvedHost } from '../inventory/index.js';
import { sh } from '../runner/quote.js';
import { APP_PATH, PM2_BIN, layoutOf } from './layout.js';

/** A pm2 command as the app user, with its PM2_HOME (what the pm2-<user> systemd unit uses). */
export function pm2As(host: ResolvedHost, args: readonly string[]): string {
  const l = layoutOf(host);
  return sh`runuser -u ${host.app.user} -- ${['env', `HOME=${l.home}`, `PM2_HOME=${l.pm2Home}`, `PATH=${APP_PATH}`, PM2_BIN, ...args]}`;
}
