import pino, { type Logger } from 'pino';

/** JSON lines on stdout (PM2 writes them to the app's log file; fail2ban and the daemon read them). */
export function createLogger(level: string): Logger {
  return pino({ level }, pino.destination({ dest: 1, sync: true }));
}
