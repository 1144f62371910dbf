import type { DaemonConfigInput } from '../daemon-config.js';
import { ALERTS_CA_PATH, ISSUER_ROOTS_PATH, layoutOf } from '../host/index.js';
import { hasPublicDns, type HostSecrets, type ResolvedHost } from '../inventory/index.js';
import type { DeploySlot } from '../inventory/resolve.js';
import { turnUrls } from '../turn/url.js';

/**
 * The server's environment, split by sensitivity. Names are the server's contract (server/config.ts);
 * plain values go into the PM2 ecosystem file, secrets only into the 0600 env file.
 */
export function serverPlainEnv(host: ResolvedHost, slot: DeploySlot): Record<string, string> {
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    PORT: String(slot.port),
    HOST: '127.0.0.1',
    LISTEN_IP: host.mediasoup.listenIp,
    ANNOUNCED_IP: host.mediasoup.announcedIp,
    RTC_MIN_PORT: String(slot.rtcPorts.min),
    RTC_MAX_PORT: String(slot.rtcPorts.max),
  };
  if (slot.webRtcServerPort !== undefined) env.WEBRTC_SERVER_PORT = String(slot.webRtcServerPort);
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
    ...(secrets.jwtSecretPrevious !== undefined ? { JWT_SECRET_PREVIOUS: secrets.jwtSecretPrevious.reveal() } : {}),
    ADMIN_TOKEN: secrets.adminToken.reveal(),
    TURN_SECRET: secrets.turnSecret.reveal(),
  };
}

/**
 * PM2's view of the server: one forked process per deploy slot that signals ready, drains, and logs where fail2ban
 * reads. Each starts from its slot's link with its own ports; a deploy starts only the slot it deploys to.
 */
export function ecosystem(host: ResolvedHost) {
  return {
    apps: [host.app.slots.a, host.app.slots.b].map((slot) => ({
      name: slot.pm2Name,
      script: `${slot.dir}/dist/server/main.js`,
      cwd: slot.dir,
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
      env: serverPlainEnv(host, slot),
    })),
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

/** A cron schedule (with seconds) every `intervalSec`, `offsetSec` into each minute so checks do not all start together. */
export function everyInterval(intervalSec: number, offsetSec: number): string {
  // node-cron has no start/step ("5/10"): the seconds are listed.
  if (intervalSec < 60) return `${Array.from({ length: 60 / intervalSec }, (_, i) => (offsetSec % intervalSec) + i * intervalSec).join(',')} * * * * *`;
  const minutes = intervalSec / 60;
  return minutes === 60 ? `${offsetSec} 0 * * * *` : `${offsetSec} */${minutes} * * * *`;
}

/** Critical halfway between a warning threshold and 100 %. */
const halfwayToFull = (warn: number) => Math.round((warn + (100 - warn) / 2) * 10) / 10;

/**
 * Where the daemon reaches coturn on the host itself, as a caller does: not on loopback, because coturn relays
 * from the address a client came in on, and a relay on 127.0.0.1 sends to mediasoup from 127.0.0.1, mediasoup
 * answers to 127.0.0.1, and coturn drops the answer (its permission names the announced IP). So: the first address
 * coturn listens on, else its relay address (NAT clouds), else the announced IP (the host's own public address).
 */
export function turnAddress(host: ResolvedHost): string {
  const listening = host.turn.listeningIps.filter((ip) => !ip.startsWith('127.') && ip !== '::1');
  return listening[0] ?? host.turn.relayIp ?? host.mediasoup.announcedIp;
}


/**
 * The health daemon's config file (lib/daemon-config.ts's schema) for one host; its secrets go to daemonSecretEnv.
 * Everything is probed from the host itself: nginx and coturn on loopback with the public names as SNI, the
 * relayed data sent to the announced IP (coturn's one allowed peer), the media probe through nginx and coturn.
 */
export function daemonConfig(host: ResolvedHost): DaemonConfigInput {
  const d = host.daemon;
  const domain = host.app.domains[0] ?? '';
  const turnIp = turnAddress(host);
  const every = (offsetSec: number) => everyInterval(d.intervalSec, offsetSec);
  // A test ACME server's certificates chain to roots no system trusts: the tls step installs them here.
  const ca = host.acme.issuerRoots === undefined ? {} : { caFile: ISSUER_ROOTS_PATH };
  return {
    host: host.name,
    stateFile: layoutOf(host).alertStateFile,
    deployMarker: layoutOf(host).deployMarker,
    ...(host.alerts.runbookUrl !== undefined ? { runbookUrl: host.alerts.runbookUrl } : {}),
    alerting: {
      failureThreshold: d.failureThreshold, successThreshold: d.successThreshold, reminderIntervalMin: d.reminderIntervalMin, slack: host.alerts.slack, webhook: host.alerts.webhook,
      maintenance: d.maintenance, plainHttpTo: host.alerts.plainHttpTo,
      ...(host.alerts.heartbeat !== undefined ? { heartbeat: { schedule: every(55), method: host.alerts.heartbeat.method } } : {}), ...(host.alerts.caFile !== undefined ? { caFile: ALERTS_CA_PATH } : {}),
    },
    checks: withAlertOverrides(d.checkAlerting, {
      'tls-expiry': {
        warnDays: d.certExpiryDays, criticalDays: Math.min(7, d.certExpiryDays), ...ca,
        targets: [
          { host: '127.0.0.1', port: 443, servername: domain, certFile: host.tls.fullchain },
          { host: turnIp, port: host.turn.tlsPort, servername: host.turn.domain, certFile: host.tls.fullchain },
          ...(host.turn.tls443 ? [{ host: turnIp, port: 443, servername: host.turn.domain, certFile: host.tls.fullchain }] : []),
        ],
      },
      disk: { schedule: every(0), mounts: d.diskMounts, warnPercent: d.diskPercent, criticalPercent: halfwayToFull(d.diskPercent), inodeWarnPercent: d.diskPercent, inodeCriticalPercent: halfwayToFull(d.diskPercent) },
      system: { schedule: every(5), memoryWarnPercent: d.memoryPercent, memoryCriticalPercent: halfwayToFull(d.memoryPercent), cpuWarnPercent: d.cpuPercent, cpuCriticalPercent: halfwayToFull(d.cpuPercent) },
      turn: {
        schedule: every(30),
        host: turnIp, servername: host.turn.domain, port: host.turn.port, tlsPort: host.turn.tlsPort, tls443: host.turn.tls443,
        peerIp: host.mediasoup.announcedIp, peerPort: host.daemon.turnEchoPort, announcedIp: host.mediasoup.announcedIp, externalIp: host.turn.externalIp,
        ...(hasPublicDns(host.turn.domain) ? { dnsName: host.turn.domain } : {}), ...ca,
      },
      'turn-peers': { schedule: every(40), host: turnIp, port: host.turn.port, ownIp: host.mediasoup.announcedIp },
      server: { schedule: every(15), url: `http://127.0.0.1:${host.app.port}`, upstreamFile: host.nginx.upstreamFile, signalingUrl: `wss://${domain}/signaling`, address: '127.0.0.1', ...ca },
      pm2: {
        schedule: every(45), processName: host.app.name, home: layoutOf(host).pm2Home,
        slots: { upstreamFile: host.nginx.upstreamFile, processes: Object.fromEntries([host.app.slots.a, host.app.slots.b].map((s) => [String(s.port), s.pm2Name])) },
      },
      services: {
        schedule: every(20),
        units: ['nginx.service', 'coturn.service', 'fail2ban.service', 'certbot.timer', ...(host.nodeExporter.enabled ? ['prometheus-node-exporter.service'] : [])],
      },
      'media-probe': {
        signalingUrl: `wss://${domain}/signaling`, address: '127.0.0.1',
        relayUrls: turnUrls(turnIp, host.turn),
        relayServername: host.turn.domain, ...ca,
      },
    }),
  };
}

type Checks = NonNullable<DaemonConfigInput['checks']>;

/** daemon.checkAlerting from the inventory as each check's `alert` (lib/daemon-config.ts). */
function withAlertOverrides(overrides: ResolvedHost['daemon']['checkAlerting'], checks: Checks): Checks {
  const out: Record<string, unknown> = { ...checks };
  for (const [name, o] of Object.entries(overrides)) {
    const c = out[name];
    if (o !== undefined && c !== undefined && Object.keys(o).length > 0) out[name] = { ...(c as object), alert: o };
  }
  return out as Checks;
}

/** The daemon's EnvironmentFile: the secrets its checks and Slack need (names from lib/daemon-config.ts SECRET_ENV). */
export function daemonSecretEnv(secrets: HostSecrets): Record<string, string> {
  const env: Record<string, string> = { JWT_SECRET: secrets.jwtSecret.reveal(), ADMIN_TOKEN: secrets.adminToken.reveal(), TURN_SECRET: secrets.turnSecret.reveal() };
  if (secrets.slackWebhookUrl !== undefined) env.SLACK_WEBHOOK_URL = secrets.slackWebhookUrl.reveal();
  if (secrets.webhookUrl !== undefined) env.ALERT_WEBHOOK_URL = secrets.webhookUrl.reveal();
  if (secrets.webhookToken !== undefined) env.ALERT_WEBHOOK_TOKEN = secrets.webhookToken.reveal();
  if (secrets.heartbeatUrl !== undefined) env.HEARTBEAT_URL = secrets.heartbeatUrl.reveal();
  return env;
}
