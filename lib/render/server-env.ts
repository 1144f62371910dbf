import type { HostSecrets, ResolvedHost } from '../inventory/index.js';

/**
 * The server's environment, split by sensitivity. Names are the server's contract (server/config.ts);
 * plain values go into the PM2 ecosystem file, secrets only into the 0600 env file.
 */
export function serverPlainEnv(host: ResolvedHost): Record<string, string> {
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    PORT: String(host.app.port),
    HOST: '127.0.0.1',
    LISTEN_IP: host.mediasoup.listenIp,
    ANNOUNCED_IP: host.mediasoup.announcedIp,
    RTC_MIN_PORT: String(host.mediasoup.rtcPorts.min),
    RTC_MAX_PORT: String(host.mediasoup.rtcPorts.max),
  };
  if (host.mediasoup.webRtcServerPort !== undefined) env.WEBRTC_SERVER_PORT = String(host.mediasoup.webRtcServerPort);
  Object.assign(env, {
    NUM_WORKERS: String(host.app.numWorkers),
    TURN_URLS: host.turn.urls.join(','),
    TURN_TTL: String(host.turn.credentialTtlSec),
    DRAIN_TIMEOUT_MS: String(host.app.drainTimeoutMs),
    TRUST_PROXY: '1',
    LOG_LEVEL: host.app.logLevel,
  });
  if (host.app.mediasoupWorkerBin !== undefined) env.MEDIASOUP_WORKER_BIN = host.app.mediasoupWorkerBin;
  return env;
}

export function serverSecretEnv(secrets: HostSecrets): Record<string, string> {
  return {
    JWT_SECRET: secrets.jwtSecret.reveal(),
    ADMIN_TOKEN: secrets.adminToken.reveal(),
    TURN_SECRET: secrets.turnSecret.reveal(),
  };
}

/** PM2's view of the server: one forked process that signals ready, drains, and logs where fail2ban reads. */
export function ecosystem(host: ResolvedHost) {
  return {
    apps: [
      {
        name: host.app.name,
        script: host.app.script,
        cwd: host.app.currentDir,
        exec_mode: 'fork',
        instances: 1,
        autorestart: true,
        wait_ready: true,
        listen_timeout: host.pm2.listenTimeoutMs,
        kill_timeout: host.pm2.killTimeoutMs,
        max_memory_restart: host.pm2.maxMemoryRestart,
        node_args: [`--env-file=${host.app.envFile}`],
        out_file: host.app.outLog,
        error_file: host.app.errorLog,
        merge_logs: true,
        // pino writes its own timestamps.
        time: false,
        env: serverPlainEnv(host),
      },
    ],
  };
}

/** pm2-logrotate module settings, applied with `pm2 set pm2-logrotate:<key> <value>`. */
export function pm2LogrotateSettings(host: ResolvedHost): Record<string, string> {
  return {
    max_size: host.pm2.logMaxSize,
    retain: String(host.pm2.logRetain),
    compress: String(host.pm2.logCompress),
    rotateInterval: '0 0 * * *',
    workerInterval: '60',
  };
}

export function pm2LogrotateCommands(host: ResolvedHost): string[][] {
  return Object.entries(pm2LogrotateSettings(host)).map(([key, value]) => ['pm2', 'set', `pm2-logrotate:${key}`, value]);
}

/** What the health daemon reads besides its secrets (the daemon is built separately). */
export function daemonConfig(host: ResolvedHost) {
  const domain = host.app.domains[0] ?? '';
  return {
    host: host.name,
    app: host.app.name,
    intervalSec: host.daemon.intervalSec,
    failureThreshold: host.daemon.failureThreshold,
    successThreshold: host.daemon.successThreshold,
    reminderIntervalMin: host.daemon.reminderIntervalMin,
    thresholds: {
      cpuPercent: host.daemon.cpuPercent,
      memoryPercent: host.daemon.memoryPercent,
      diskPercent: host.daemon.diskPercent,
      certExpiryDays: host.daemon.certExpiryDays,
    },
    endpoints: {
      healthz: `http://127.0.0.1:${host.app.port}/healthz`,
      status: `http://127.0.0.1:${host.app.port}/status`,
      public: `https://${domain}/healthz`,
    },
    certificate: host.tls.fullchain,
    turn: { host: '127.0.0.1', port: host.turn.port },
    alerts: { slack: host.alerts.slack },
  };
}

export function daemonSecretEnv(secrets: HostSecrets): Record<string, string> {
  const env: Record<string, string> = { ADMIN_TOKEN: secrets.adminToken.reveal() };
  if (secrets.slackWebhookUrl !== undefined) env.SLACK_WEBHOOK_URL = secrets.slackWebhookUrl.reveal();
  return env;
}
