import cron from 'node-cron';
import { z } from 'zod';
import { parseTurnUrl, turnPathName } from './turn/url.js';
import { DEFAULT_CAUSES } from './alerting/causes.js';
import { DAYS } from './alerting/maintenance.js';
import { isCidr, isPrivateCidr } from './inventory/checks.js';

/**
 * The health daemon's config file (JSON or YAML): what to check, when, and where alerts go. lib/render writes it,
 * daemon/config.ts loads it, lib/checks builds the checks from it. Secrets are never in it: they come from
 * environment variables (a 0600 EnvironmentFile on the host), named in SECRET_ENV.
 */

export const SECRET_ENV = {
  jwtSecret: 'JWT_SECRET',
  adminToken: 'ADMIN_TOKEN',
  turnSecret: 'TURN_SECRET',
  slackWebhookUrl: 'SLACK_WEBHOOK_URL',
  webhookUrl: 'ALERT_WEBHOOK_URL',
  webhookToken: 'ALERT_WEBHOOK_TOKEN',
  heartbeatUrl: 'HEARTBEAT_URL',
} as const;

const schedule = z.string().refine((s) => cron.validate(s), { error: (iss) => `"${String(iss.input)}" is not a cron expression (like "*/5 * * * *", or with seconds "*/30 * * * * *")` });
const port = z.number().int().min(1).max(65535);
const percent = z.number().min(1).max(100);
const file = z.string().min(1);
// Zod still runs the array's refinement when an element failed: a bad URL stands for itself there.
const relayTarget = (url: string) => {
  try {
    return turnPathName(parseTurnUrl(url));
  } catch {
    return url;
  }
};
const relayUrl = z.string().superRefine((url, ctx) => {
  try {
    parseTurnUrl(url);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

const privateCidr = z.string().superRefine((c, ctx) => {
  if (!isCidr(c)) ctx.addIssue({ code: 'custom', message: `"${c}" is not a CIDR (like 10.0.0.0/8)` });
  else if (!isPrivateCidr(c)) ctx.addIssue({ code: 'custom', message: `${c} is not a private network: alerts cross the Internet over https only` });
});

/** Per check, the alerting policy's numbers may differ from alerting's (a check that runs once a day alerts on its first failure). */
export const alertOverride = z.strictObject({
  failureThreshold: z.number().int().min(1).optional(),
  successThreshold: z.number().int().min(1).optional(),
  reminderIntervalMin: z.number().min(0).optional(),
}).optional().describe("This check's own failureThreshold / successThreshold / reminderIntervalMin (default: alerting's).");

const common = (defaultSchedule: string, defaultTimeoutMs: number) => ({
  schedule: schedule.default(defaultSchedule).describe('When the check runs (node-cron; six fields for seconds).'),
  timeoutMs: z.number().int().min(100).default(defaultTimeoutMs).describe('A run that takes longer is a critical result.'),
  alert: alertOverride,
});

const alertPattern = z.string().regex(/^[a-z0-9-]+\/.+$/, { error: 'must be check/target (a target may end in *), e.g. services/coturn.service or turn/*' });

const maintenanceWindow = z.union([
  z.strictObject({ from: z.iso.datetime({ offset: true }), until: z.iso.datetime({ offset: true }), checks: z.array(z.string()).optional() }),
  z.strictObject({ days: z.array(z.enum(DAYS)).min(1), start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'must be HH:MM (UTC)' }), durationMin: z.number().int().min(1).max(7 * 1440), checks: z.array(z.string()).optional() }),
]);

export const daemonConfigSchema = z.strictObject({
  host: z.string().min(1).describe('Host name shown in alerts.'),
  stateFile: file.describe('Alert state (survives restarts), e.g. /var/lib/rtcops-health/alerts.json.'),
  listen: z.strictObject({ host: z.string().default('127.0.0.1'), port: port.default(9464) }).prefault({}).describe('/healthz and /metrics; loopback or an admin-only address.'),
  runbookUrl: z.string().min(1).default('RUNBOOK.md').describe('RUNBOOK.md URL; alerts link <runbookUrl>#<check>.'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  deployMarker: file.optional().describe('The file a deploy writes while it runs (lib/deploy): alerts wait meanwhile, and the restarts it makes are not crashes.'),
  alerting: z.strictObject({
    failureThreshold: z.number().int().min(1).default(3),
    successThreshold: z.number().int().min(1).default(2),
    sendOnResolved: z.boolean().default(true),
    reminderIntervalMin: z.number().min(0).default(60).describe('Re-send a still-open alert this often (0: never).'),
    backoff: z.strictObject({
      initialDelayMs: z.number().int().min(1).default(2000).describe('After a failed delivery, wait this long before the next send to that destination; doubled per failure in a row, across results.'),
      maxDelayMs: z.number().int().min(1).default(300_000).describe('The longest back-off between two attempts.'),
      minIntervalMs: z.number().int().min(0).default(1000).describe('At most one message per destination this often (Slack accepts about one per second per webhook). A 429 or 503 with Retry-After waits as long as it asks.'),
    }).prefault({}),
    slack: z.boolean().default(false).describe(`Send to Slack (${SECRET_ENV.slackWebhookUrl}).`),
    webhook: z.boolean().default(false).describe(`Send to a generic webhook (${SECRET_ENV.webhookUrl}, optional ${SECRET_ENV.webhookToken}).`),
    maintenance: z.array(maintenanceWindow).default([]),
    heartbeat: z.strictObject({
      schedule: schedule.default('30 * * * * *').describe('How often to push; set the push monitor\'s period to this and its grace to about two periods.'),
      method: z.enum(['GET', 'POST']).default('POST').describe('POST carries the host and its result counts as JSON; GET for services that take only a ping.'),
      timeoutMs: z.number().int().min(100).default(10_000),
    }).optional().describe(`A dead-man heartbeat: push to ${SECRET_ENV.heartbeatUrl} (healthchecks.io, an Uptime Kuma push monitor) on a schedule, so that service alerts when the host or the daemon stops.`),
    causes: z.array(z.strictObject({ effect: alertPattern, causes: z.array(alertPattern).min(1) })).default(() => DEFAULT_CAUSES.map((r) => ({ effect: r.effect, causes: [...r.causes] })))
      .describe('One alert per cause: while a cause (check/target, * at the end matches any) is failing, its effects send nothing and its alert lists them. Default: coturn → turn and relay probes, nginx/the app → server, pm2 and the media probe.'),
    plainHttpTo: z.array(privateCidr).default([])
      .describe(`Private networks a webhook or heartbeat URL may reach over plain http, by IP address (${SECRET_ENV.slackWebhookUrl}, ${SECRET_ENV.webhookUrl}, ${SECRET_ENV.heartbeatUrl}). Empty: https only.`),
    caFile: file.optional().describe('PEM CA the daemon trusts besides the system CAs for alert webhooks and heartbeat pushes (a private CA).'),
  }).prefault({}),
  checks: z.strictObject({
    'tls-expiry': z.strictObject({
      ...common('0 */10 * * * *', 15_000),
      warnDays: z.number().int().min(1).default(21),
      criticalDays: z.number().int().min(0).default(7),
      caFile: file.optional(),
      targets: z.array(z.strictObject({ host: z.string().min(1), port, servername: z.string().min(1), certFile: file.optional() })).min(1),
    }).optional(),
    disk: z.strictObject({
      ...common('0 * * * * *', 5000),
      mounts: z.array(z.string().regex(/^\//, { error: 'must be an absolute path' })).default([]).describe('Mount points that must be mounted (data or log volumes): one that is not is critical.'),
      allFilesystems: z.boolean().default(true).describe('Also watch `/` and every real filesystem mounted (block devices, network shares).'),
      warnPercent: percent.default(80), criticalPercent: percent.default(90),
      inodeWarnPercent: percent.default(80), inodeCriticalPercent: percent.default(90),
    }).optional(),
    system: z.strictObject({
      ...common('0 * * * * *', 5000),
      memoryWarnPercent: percent.default(85), memoryCriticalPercent: percent.default(95),
      cpuWarnPercent: percent.default(80), cpuCriticalPercent: percent.default(95),
      loadWarnPerCore: z.number().positive().default(1.5), loadCriticalPerCore: z.number().positive().default(3),
      clockWarnMs: z.number().positive().default(500).describe('Warn when the clock is this far from its time source (chrony, systemd-timesyncd).'),
      clockCriticalMs: z.number().positive().default(10_000),
    }).optional(),
    turn: z.strictObject({
      ...common('30 * * * * *', 10_000),
      host: z.string().min(1), servername: z.string().min(1), port: port.default(3478), tlsPort: port.default(5349),
      transports: z.array(z.enum(['udp', 'tcp', 'tls'])).min(1).default(['udp', 'tcp', 'tls']),
      tls443: z.boolean().default(false).describe('Also TURN over TLS on port 443 (nginx\'s router, turn.tls443): target tls-443.'),
      caFile: file.optional(), requestTimeoutMs: z.number().int().min(100).default(2000),
      peerIp: z.string().optional().describe('Address the relay sends the probe data to (the announced IP on the host). Absent: no relayed round trip (e.g. run from an operator machine).'),
      peerPort: z.number().int().min(0).max(65535).default(0).describe('UDP port of the echo peer (daemon.turnEchoPort on a host, where the relay guard lets a relay reach only it and the media ports). 0: any free port.'),
      peerBindIp: z.string().default('0.0.0.0'),
      privatePeerIp: z.string().default('10.255.255.1'),
      rttWarnMs: z.number().min(1).default(200),
      announcedIp: z.string().optional(), externalIp: z.string().optional(), dnsName: z.string().optional(),
    }).optional(),
    'turn-peers': z.strictObject({
      ...common('40 * * * * *', 30_000),
      host: z.string().min(1), port: port.default(3478),
      ownIp: z.string().min(1).describe('The host\'s own address (the announced IP): a relay there may reach the media ports only; a STUN request relayed to it on `port` must get no answer.'),
      requestTimeoutMs: z.number().int().min(100).default(2000),
    }).optional().describe('TURN refuses relays to private, loopback, link-local and IPv4-mapped peers, and to the host\'s own address on a non-media port.'),
    server: z.strictObject({
      ...common('15 * * * * *', 10_000),
      url: z.url({ protocol: /^https?$/ }), signalingUrl: z.url({ protocol: /^wss?$/ }), caFile: file.optional(),
      upstreamFile: file.optional().describe('nginx\'s upstream file: the port it names (the deploy slot that serves) replaces url\'s.'),
      address: z.string().min(1).optional().describe('Connect to this address (nginx on 127.0.0.1) instead of resolving the URLs\' domain; SNI and Host stay the domain.'),
      readyz: z.boolean().default(true).describe('Also require /readyz (false through nginx, which does not expose it).'),
      workerCpuWarnPercent: z.number().min(1).default(80), workerCpuCriticalPercent: z.number().min(1).default(95),
      requestTimeoutMs: z.number().int().min(100).default(3000),
    }).optional(),
    pm2: z.strictObject({
      ...common('45 * * * * *', 10_000),
      processName: z.string().min(1),
      slots: z.strictObject({ upstreamFile: file, processes: z.record(z.string().regex(/^\d+$/), z.string().min(1)) }).optional()
        .describe('Deploy slots: check the process of the slot nginx\'s upstream file names (port → PM2 process name), else processName.'),
      home: file.optional().describe('PM2_HOME of the user PM2 runs as (default: ~/.pm2 of the daemon\'s user).'),
      crashLoopRestarts: z.number().int().min(1).default(2).describe('This many restarts within crashLoopWindowMin is a crash loop (critical), however slowly they come.'),
      crashLoopWindowMin: z.number().positive().default(10),
    }).optional(),
    services: z.strictObject({
      ...common('20 * * * * *', 10_000),
      units: z.array(z.string().regex(/^[\w@.-]+$/)).min(1).default(['nginx.service', 'coturn.service', 'fail2ban.service', 'certbot.timer']),
    }).optional(),
    'media-probe': z.strictObject({
      ...common('0 */5 * * * *', 30_000),
      signalingUrl: z.url({ protocol: /^wss?$/ }), caFile: file.optional(),
      address: z.string().min(1).optional().describe('Connect the signaling here instead of resolving its domain (as for the server check).'),
      packets: z.number().int().min(5).max(500).default(25),
      minReceivedPercent: percent.default(80),
      relayUrls: z.array(relayUrl).default([]).refine((urls) => new Set(urls.map(relayTarget)).size === urls.length, { error: 'one URL per path (udp, tcp, tls, tls-443): each is a target relay:<path>' })
        .describe('turn:/turns: URLs; each gets a call of its own forced through it with relay-only ICE. Empty: direct only.'),
      relayServername: z.string().min(1).optional().describe("Name coturn's TLS certificate covers, when a turns: URL names an address."),
      iceAddress: z.string().optional().describe('Local address the probe gathers ICE candidates on (default: every interface).'),
    }).optional(),
    backup: z.strictObject({
      ...common('0 0 3 * * *', 15 * 60_000),
      inventory: file.describe('The inventory.yaml the hosts and their secrets come from (the secrets from this daemon\'s environment or the secrets file).'),
      hosts: z.array(z.string().min(1)).min(1).describe('Hosts to back up, one after the other.'),
      outDir: file.describe('Archives go to <outDir>/<host>/, as with backup.mjs --out.'),
      keyFile: file.optional().describe('age key file (mode 0600; the public key alone is enough). Default: RTCOPS_BACKUP_KEY.'),
      maxAgeHours: z.number().positive().default(26).describe('The newest archive of a host may be this old before the check is critical (stale). Every run backs up, whatever the age.'),
      keepDaily: z.number().int().min(0).optional(), keepWeekly: z.number().int().min(0).optional(), keepMonthly: z.number().int().min(0).optional(),
      upload: z.strictObject({
        url: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, { error: 'an S3 URL: s3://<bucket>/<prefix>' }).describe('Also copy each archive to s3://<bucket>/<prefix>/<host>/ and apply the retention there (as backup.mjs --upload). Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the daemon\'s environment.'),
        endpoint: z.url({ protocol: /^https?$/ }).optional().describe('Endpoint of an S3-compatible service (MinIO, Ceph, R2, B2, ...), path-style; default AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS S3.'),
      }).optional().describe('The off-site copy: an S3-compatible bucket.'),
    }).optional().describe('Run from the machine that keeps the backups (not on a host): scheduled backup.mjs with an alert when a backup fails or is stale.'),
  }),
});

export type DaemonConfig = z.output<typeof daemonConfigSchema>;
/** What a config file may say (defaults still to fill): what lib/render writes. */
export type DaemonConfigInput = z.input<typeof daemonConfigSchema>;
export type ChecksConfig = DaemonConfig['checks'];

export interface DaemonSecrets {
  jwtSecret?: string | undefined;
  adminToken?: string | undefined;
  turnSecret?: string | undefined;
  slackWebhookUrl?: string | undefined;
  webhookUrl?: string | undefined;
  webhookToken?: string | undefined;
  heartbeatUrl?: string | undefined;
}
