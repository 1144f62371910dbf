import { startServer } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { existsSync } from 'node:fs';

/** Exit codes: 0 clean stop, 1 runtime failure (PM2 restarts), 2 configuration error (fix the env file). */
async function main(): Promise<void> {
  let cfg;
  try {
    cfg = loadConfig();
    const bin = process.env['MEDIASOUP_WORKER_BIN'];
    if (bin !== undefined && bin !== '' && !existsSync(bin)) {
      throw new ConfigError('MEDIASOUP_WORKER_BIN', `"${bin}" does not exist; point it at the mediasoup-worker binary or unset it`);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`rtcops server: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (process.argv.includes('--check-config')) {
    process.stdout.write('rtcops server: configuration OK\n');
    return;
  }

  const log = createLogger(cfg.logLevel);
  const server = await startServer(cfg, {
    log,
    onFatal: () => {
      // The worker's rooms are gone; a clean restart by PM2 is the fastest way back.
      setTimeout(() => process.exit(1), 50);
    },
  });

  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ event: 'shutdown_forced', signal }, 'second signal: closing now');
      void server.close().then(() => process.exit(0));
      return;
    }
    log.info({ event: 'shutdown_requested', signal }, 'shutting down gracefully');
    void server.drain().then(() => {
      log.info({ event: 'stopped' }, 'stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // PM2 wait_ready: tell it we are listening.
  process.send?.('ready');
}

main().catch((err: unknown) => {
  process.stderr.write(`rtcops server: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
