import { z } from 'zod';
import { isCidr, isHostname, isIpAddress } from './checks.js';

/** The checks of the health daemon installed on a host (lib/checks/operator.ts's ALL_CHECKS; a test keeps them equal). */
export const HOST_DAEMON_CHECKS = ['tls-expiry', 'turn', 'turn-peers', 'server', 'media-probe', 'disk', 'system', 'pm2', 'services'] as const;

const checkAlerting = z.strictObject({
  failureThreshold: z.number().int().min(1).optional().describe('Consecutive failures of this check before alerting (default: daemon.failureThreshold).'),
  successThreshold: z.number().int().min(1).optional().describe('Consecutive successes of this check before resolving (default: daemon.successThreshold).'),
  reminderIntervalMin: z.number().int().min(0).optional().describe('Re-send an open alert of this check this often, 0: never (default: daemon.reminderIntervalMin).'),
}).describe('Alerting numbers for this check.');

/**
 * The settings of one host, as the inventory spells them. Every key is documented here (docs/inventory.md
 * is generated from these descriptions) and every default is filled here; values derived from other
 * keys (paths under app.root, the TURN realm...) are filled in resolve.ts.
 */

const port = z.number().int().min(1).max(65535);

const portRange = (min: number, max: number, what: string) =>
  z
    .strictObject({
      min: port.describe('First port of the range.'),
      max: port.describe('Last port of the range (inclusive).'),
    })
    .default({ min, max })
    .describe(what);

const hostname = z.string().refine(isHostname, { error: (iss) => `"${String(iss.input)}" is not a valid hostname (like rtc.example.com)` });
const ipAddress = z.string().refine(isIpAddress, { error: (iss) => `"${String(iss.input)}" is not an IP address` });
const cidr = z.string().refine(isCidr, { error: (iss) => `"${String(iss.input)}" is not a CIDR (like 203.0.113.0/24 or 2001:db8::/32)` });
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: (iss) => `"${String(iss.input)}" is not an environment variable name` });
const path = z.string().min(1);
const unixUser = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: 'must be a Unix user name (lower case letters, digits, _ and -)' });
const absolutePath = z.string().regex(/^\//, { error: 'must be an absolute path' });
const duration = z.number().int().positive();
const size = z.string().regex(/^\d+[KMG]?$/, { error: (iss) => `"${String(iss.input)}" is not a size (like 512M or 1G)` });

/** Where a secret comes from: never its value. */
const secretRef = z
  .strictObject(
    {
      env: envName.optional().describe('Name of the environment variable that holds the value on the operator machine.'),
      key: z.string().min(1).optional().describe('Key in secrets.file that holds the value.'),
    },
    {
      error: (iss) =>
        iss.code === 'invalid_type'
          ? 'secrets are never written in the inventory: name where the value comes from, { env: VARIABLE } or { key: name-in-secrets-file }'
          : undefined,
    },
  )
  .describe('Where the secret comes from: `{ env: VARIABLE }` or `{ key: name }` (a key of `secrets.file`).');

export const OS_VALUES = ['debian-12', 'debian-13', 'ubuntu-22.04', 'ubuntu-24.04'] as const;

export const hostSettingsSchema = z.strictObject({
  os: z
    .enum(OS_VALUES)
    .default('debian-12')
    .describe('Operating system of the host. Debian 12 and 13 are verified end to end on the sandbox; Ubuntu is accepted but not run here. Decides what must be known before connecting (lib/inventory/os.ts: the fail2ban sshd backend, journal on Debian, auth.log on Ubuntu; the unattended-upgrades origins); package names and versions are read from the host.'),

  ssh: z
    .strictObject({
      address: z.string().min(1).describe('Address rtcops connects to: IP address or DNS name.'),
      port: port.default(22).describe('SSH port. Also the port the firewall and sshd allow.'),
      user: unixUser.describe('User rtcops connects as (the deploy user). sshd AllowUsers always includes it.'),
      keyPath: path.describe('Private key file on the operator machine. `~/` is expanded.'),
      hostKey: z.string().regex(/^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+$/, { error: 'must be a public key line like "ssh-ed25519 AAAA..."' }).optional().describe('Pinned host public key ("ssh-ed25519 AAAA..."). One of hostKey, fingerprint or knownHostsFile is required.'),
      fingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, { error: 'must be an OpenSSH SHA256 fingerprint like "SHA256:..." (ssh-keygen -lf)' }).optional().describe('Pinned host key fingerprint ("SHA256:...", as printed by `ssh-keygen -lf`).'),
      knownHostsFile: path.optional().describe('known_hosts file that pins the host key. `~/` is expanded.'),
      sudo: z.boolean().optional().describe('Run privileged steps with sudo (passwordless). Default: true unless ssh.user is root.'),
      connectTimeoutMs: duration.default(10_000).describe('Give up connecting after this many milliseconds.'),
    })
    .describe('How rtcops reaches the host.'),

  adminCidrs: z
    .array(cidr)
    .min(1, { error: 'must list at least one CIDR: SSH, /status, /metrics and node_exporter are reachable only from these' })
    .describe('Networks allowed to reach SSH, /status, /metrics and node_exporter.'),

  app: z
    .strictObject({
      name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, { error: 'must be lower case letters, digits and dashes, starting with a letter' }).default('rtcops').describe('Application name: PM2 process name, file names, paths (/srv/<name>).'),
      user: unixUser.default('rtcops').describe('System user the server and the health daemon run as.'),
      root: absolutePath.optional().describe('Application root on the host. Default: /srv/<app.name>.'),
      domains: z.array(hostname).min(1, { error: 'must list at least one domain' }).describe('Domain names of the signaling server. The first one names the TLS certificate.'),
      port: port.default(3000).describe('Port the server listens on, on 127.0.0.1, behind nginx (deploy slot a\'s).'),
      slotBPort: port.optional().describe('The second deploy slot\'s port (slot b), on 127.0.0.1: the port plan keeps it for a release started beside the serving one. Default: app.port + 1.'),
      logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info').describe('Server log level (LOG_LEVEL).'),
      drainTimeoutMs: duration.default(30_000).describe('How long the server drains sessions on SIGTERM (DRAIN_TIMEOUT_MS).'),
      numWorkers: z.number().int().min(1).max(64).default(1).describe('mediasoup workers (NUM_WORKERS); one per core is usual.'),
      mediasoupWorkerBin: absolutePath.optional().describe('Path of a prebuilt mediasoup-worker binary (MEDIASOUP_WORKER_BIN).'),
    })
    .describe('The signaling/SFU server.'),

  mediasoup: z
    .strictObject({
      listenIp: ipAddress.default('0.0.0.0').describe('Address mediasoup binds RTC sockets to (LISTEN_IP).'),
      announcedIp: ipAddress.describe('Public address announced in ICE candidates (ANNOUNCED_IP).'),
      rtcPorts: portRange(40000, 49999, 'Per-transport RTC port range, udp and tcp (RTC_MIN_PORT, RTC_MAX_PORT); the port plan gives deploy slot a its lower half, slot b its upper half. Opened in the firewall unless webRtcServerPort is set.'),
      webRtcServerPort: port.optional().describe('WebRtcServer mode: worker i of deploy slot a listens on this port + i, worker i of slot b on this port + app.numWorkers + i, udp and tcp (WEBRTC_SERVER_PORT). Only these ports are opened in the firewall.'),
    })
    .describe('Media ports and addresses.'),

  turn: z
    .strictObject({
      domain: hostname.describe('Domain name of the TURN server (turn: and turns: URLs). Covered by the same certificate as app.domains.'),
      realm: z.string().min(1).optional().describe('TURN realm. Default: turn.domain.'),
      port: port.default(3478).describe('STUN/TURN port, udp and tcp.'),
      tlsPort: port.default(5349).describe('TURN over TLS port (tcp).'),
      tls443: z.boolean().default(true).describe('Also offer TURN over TLS on port 443 (turns:<domain>:443), for networks that allow only 443: nginx routes TLS connections on 443 by server name, turn.domain to coturn, the app domains to the site. coturn then sees nginx, not the caller, as the client address (see README).'),
      relayPorts: portRange(50000, 59999, 'Relay port range (udp).'),
      listeningIps: z.array(ipAddress).default([]).describe('Addresses coturn listens on. Empty: all.'),
      relayIp: ipAddress.optional().describe('Address coturn relays from (the private address on NAT clouds). Default: coturn chooses.'),
      externalIp: ipAddress.optional().describe('Public address coturn advertises. Default: mediasoup.announcedIp.'),
      allowedPeerIps: z.array(ipAddress).optional().describe('Peers allowed despite the denied private ranges. Default: [mediasoup.announcedIp], so clients can relay to the SFU.'),
      credentialTtlSec: z.number().int().min(60).max(7 * 86400).default(86_400).describe('Lifetime of TURN REST credentials the server mints (TURN_TTL).'),
      userQuota: z.number().int().min(0).default(12).describe('Maximum concurrent allocations per user (0: unlimited).'),
      totalQuota: z.number().int().min(0).default(1200).describe('Maximum concurrent allocations in total (0: unlimited).'),
      maxBps: z.number().int().min(0).default(500_000).describe('Maximum bytes per second per session (0: unlimited).'),
      log: z.enum(['syslog', 'file']).default('syslog').describe('Where coturn logs: syslog (the journal) or /var/log/turnserver/turnserver.log.'),
    })
    .describe('coturn.'),

  acme: z
    .strictObject({
      email: z.email({ error: 'must be an email address' }).describe('Contact address registered with the ACME server.'),
      directoryUrl: z.url({ protocol: /^https$/, error: 'must be an https URL' }).default('https://acme-v02.api.letsencrypt.org/directory').describe('ACME directory. Let\'s Encrypt staging: https://acme-staging-v02.api.letsencrypt.org/directory; a test server such as pebble for the sandbox.'),
      caBundle: path.optional().describe('CA bundle on the operator machine to trust for the ACME server (a test server). `~/` is expanded.'),
      issuerRoots: path.optional().describe('PEM roots, on the operator machine, that the certificates of a test ACME server chain to (pebble\'s; Let\'s Encrypt needs none). Installed on the host for the health daemon; check.mjs and the deploy gate trust them too. `~/` is expanded.'),
    })
    .describe('TLS certificates (certbot).'),

  nginx: z
    .strictObject({
      hsts: z.boolean().default(false).describe('Send Strict-Transport-Security. Leave off until the certificate is proven.'),
      hstsMaxAgeSec: z.number().int().min(0).default(31_536_000).describe('HSTS max-age.'),
      clientMaxBodySize: size.default('64k').describe('Largest request body accepted.'),
      requestsPerSecond: z.number().int().min(1).default(10).describe('Per-IP request rate limit on the proxied paths.'),
      burst: z.number().int().min(0).default(20).describe('Requests above the rate accepted in a burst.'),
      signalingReadTimeoutSec: z.number().int().min(30).default(3600).describe('How long an idle signaling WebSocket stays open.'),
      loopbackPorts: z
        .strictObject({
          https: port.default(8443).describe('Where the HTTPS site listens on 127.0.0.1 behind the 443 router (turn.tls443).'),
          turnTls: port.default(8444).describe('The 443 router\'s hop to coturn\'s TLS listener, on 127.0.0.1 (turn.tls443).'),
        })
        .prefault({})
        .describe('Loopback-only ports of the 443 router (turn.tls443); never opened in the firewall.'),
    })
    .prefault({})
    .describe('The nginx site in front of the server.'),

  firewall: z
    .strictObject({
      sshRateLimit: z
        .boolean()
        .default(true)
        .describe('SSH from adminCidrs uses ufw "limit": the 7th new connection from one address within 30 s is refused. rtcops itself opens one connection per run (two when it proves SSH access after an sshd or firewall change), so rapid back-to-back runs from one address can hit it. false: plain "allow" (fail2ban\'s sshd jail still bans brute force).'),
      extraRules: z
        .array(
          z.strictObject({
            port: port.describe('Port to allow.'),
            proto: z.enum(['tcp', 'udp']).describe('Protocol.'),
            from: cidr.optional().describe('Source network. Default: anywhere.'),
            comment: z.string().regex(/^[\w .:/-]{1,60}$/, { error: 'must be up to 60 letters, digits, spaces or . : / -' }).describe('Why the port is open.'),
          }),
        )
        .default([])
        .describe('Additional ports to allow (the plan always has SSH, HTTP(S), TURN, media and node_exporter).'),
    })
    .prefault({})
    .describe('UFW rule plan.'),

  sshd: z
    .strictObject({
      allowUsers: z.array(z.string().min(1)).default([]).describe('AllowUsers. Empty: only ssh.user. When set, it must include ssh.user.'),
      allowGroups: z.array(z.string().min(1)).default([]).describe('AllowGroups (optional).'),
      maxAuthTries: z.number().int().min(1).max(10).default(3).describe('MaxAuthTries.'),
      loginGraceTimeSec: z.number().int().min(5).max(600).default(30).describe('LoginGraceTime.'),
      allowTcpForwarding: z.boolean().default(false).describe('AllowTcpForwarding.'),
    })
    .prefault({})
    .describe('sshd hardening drop-in.'),

  fail2ban: z
    .strictObject({
      sshdBackend: z.enum(['systemd', 'auth.log']).optional().describe('Where the sshd jail reads failures. Default: systemd on Debian (no rsyslog, no auth.log), auth.log on Ubuntu.'),
      bantimeSec: duration.default(3600).describe('How long an address stays banned.'),
      findtimeSec: duration.default(600).describe('Window in which failures are counted.'),
      maxRetry: z.number().int().min(1).default(5).describe('Failures within findtime that ban an address (sshd, nginx).'),
      authMaxRetry: z.number().int().min(1).default(10).describe('Rejected signaling tokens within findtime that ban an address.'),
    })
    .prefault({})
    .describe('fail2ban jails.'),

  nodeExporter: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Run prometheus-node-exporter.'),
      port: port.default(9100).describe('node_exporter port, reachable from adminCidrs only.'),
    })
    .prefault({})
    .describe('Host metrics.'),

  node: z
    .strictObject({
      version: z.string().regex(/^(22|24)\.\d+\.\d+$/, { error: 'must be an exact Node.js 22 or 24 version such as 22.23.3 (mediasoup 3.27 needs Node >= 22)' }).default('22.23.3').describe('Node.js version on the host (current LTS, 22 or 24).'),
      source: z.enum(['nodesource', 'upload']).default('nodesource').describe('Where Node.js comes from: NodeSource\'s apt repository (needs the host to reach deb.nodesource.com), or `upload`: the official binaries from the npm registry package node-linux-<arch>, fetched on the operator\'s machine, checksum-verified and uploaded over SSH (offline hosts, the sandbox). With `upload`, PM2 and pm2-logrotate are uploaded too.'),
      pm2Version: z.string().regex(/^\d+\.\d+\.\d+$/, { error: 'must be an exact version such as 7.0.4' }).default('7.0.4').describe('PM2 version installed on the host.'),
      pm2LogrotateVersion: z.string().regex(/^\d+\.\d+\.\d+$/, { error: 'must be an exact version such as 3.0.0' }).default('3.0.0').describe('pm2-logrotate module version.'),
    })
    .prefault({})
    .describe('Node.js and PM2 on the host.'),

  pm2: z
    .strictObject({
      maxMemoryRestart: size.default('1G').describe('Restart the server when its memory exceeds this.'),
      listenTimeoutMs: duration.default(15_000).describe('How long PM2 waits for the server\'s ready signal.'),
      killTimeoutMs: duration.optional().describe('How long PM2 waits after SIGTERM before SIGKILL; must exceed app.drainTimeoutMs. Default: drainTimeoutMs + 5000.'),
      logMaxSize: size.default('50M').describe('pm2-logrotate max_size.'),
      logRetain: z.number().int().min(1).default(14).describe('pm2-logrotate retain (rotated files kept).'),
      logCompress: z.boolean().default(true).describe('pm2-logrotate compress.'),
    })
    .prefault({})
    .describe('PM2 process manager.'),

  deploy: z
    .strictObject({
      keepReleases: z.number().int().min(2).max(100).default(5).describe('Releases kept under app.root/releases after a deploy; older ones are deleted, never the current or the previous one.'),
      drainWaitSec: z.number().int().min(0).default(600).describe('How long a deploy waits for the running release\'s rooms to empty before switching (--now switches at once). When they do not empty in time, the deploy stops before the switch.'),
      gateTimeoutSec: z.number().int().min(5).default(60).describe('Health gate deadline, in the idle slot before nginx sends it callers: PM2, /healthz, /readyz, a signaling round trip, ICE candidates in its media ports and a real call (direct and through TURN) must pass within it, or the release is stopped and the previous one serves on.'),
      watchSec: z.number().int().min(0).default(60).describe('After the gate passed, how long the same checks must keep passing with no PM2 restart before the deploy counts as good.'),
    })
    .prefault({})
    .describe('Deploys and rollbacks (scripts/deploy.mjs, scripts/rollback.mjs).'),

  daemon: z
    .strictObject({
      intervalSec: z
        .number()
        .int()
        .min(10)
        .refine((n) => (n < 60 ? 60 % n === 0 : n % 60 === 0 && 3600 % n === 0), { error: 'must divide a minute (10, 12, 15, 20, 30) or be whole minutes that divide an hour (60, 120, 300, 600, 900, 1800, 3600): the daemon schedules its checks with cron' })
        .default(60)
        .describe('How often the health daemon runs its host, TURN, server, PM2 and service checks (the TLS check runs every 10 minutes, the media probe every 5).'),
      failureThreshold: z.number().int().min(1).default(3).describe('Consecutive failures before alerting.'),
      successThreshold: z.number().int().min(1).default(2).describe('Consecutive successes before resolving.'),
      reminderIntervalMin: z.number().int().min(0).default(60).describe('Re-send an open alert this often (0: never).'),
      cpuPercent: z.number().min(1).max(100).default(80).describe('CPU usage warning threshold; critical halfway between it and 100.'),
      memoryPercent: z.number().min(1).max(100).default(85).describe('Memory usage warning threshold; critical halfway between it and 100.'),
      diskMounts: z.array(absolutePath).default([]).describe('Mount points the disk check must find mounted (a data or log volume), besides `/` and every real filesystem it finds by itself: one that is not mounted is critical (what is written there would fill the filesystem under it).'),
      diskPercent: z.number().min(1).max(100).default(80).describe('Disk (and inode) usage warning threshold per mount; critical halfway between it and 100.'),
      turnEchoPort: port.default(32767).describe('UDP port of the TURN check\'s echo peer on mediasoup.announcedIp: the check relays through coturn to it and back. Reached only from coturn on the host itself (the relay guard lets a relay to the host reach the media ports and this port; the firewall does not open it). Default: the port below Linux\'s ephemeral range, which no outgoing socket takes.'),
      certExpiryDays: z.number().int().min(1).default(14).describe('Warn when a served certificate expires within this many days; critical within 7 (or this, when smaller).'),
      maintenance: z
        .array(
          z.union([
            z.strictObject({ from: z.iso.datetime({ offset: true }), until: z.iso.datetime({ offset: true }), checks: z.array(z.string().min(1)).optional() }),
            z.strictObject({
              days: z.array(z.enum(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'])).min(1),
              start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'must be HH:MM (UTC)' }),
              durationMin: z.number().int().min(1).max(7 * 1440),
              checks: z.array(z.string().min(1)).optional(),
            }),
          ]),
        )
        .default([])
        .describe('Windows in which the daemon sends no alerts (checks still run): one-off `{ from, until }` (ISO times with offset) or weekly `{ days: [sun..sat], start: "HH:MM" UTC, durationMin }`; `checks` limits a window to some checks. Applied with `provision.mjs <host> --only config` (RUNBOOK.md#maintenance).'),
      checkAlerting: z
        .strictObject(Object.fromEntries(HOST_DAEMON_CHECKS.map((name) => [name, checkAlerting.optional()])) as Record<(typeof HOST_DAEMON_CHECKS)[number], z.ZodOptional<typeof checkAlerting>>)
        .default({})
        .describe('Per check, failureThreshold / successThreshold / reminderIntervalMin other than the ones above, e.g. `{ tls-expiry: { failureThreshold: 1, reminderIntervalMin: 1440 }, media-probe: { failureThreshold: 2 } }`: a check that runs every 10 minutes otherwise alerts only after 30.'),
    })
    .prefault({})
    .describe('Health daemon schedule and thresholds.'),

  alerts: z
    .strictObject({
      slack: z.boolean().default(false).describe('Send alerts to Slack (needs secrets.slackWebhookUrl).'),
      webhook: z.boolean().default(false).describe('Send alerts as JSON to a generic webhook (needs secrets.webhookUrl; secrets.webhookToken, if set, goes as a bearer token).'),
      heartbeat: z.strictObject({ method: z.enum(['GET', 'POST']).default('POST').describe('POST carries the host and its result counts as JSON; GET for ping-only services.') }).optional().describe('A dead-man heartbeat: the health daemon pushes to secrets.heartbeatUrl (a healthchecks.io check, an Uptime Kuma push monitor) every daemon.intervalSec, so that service alerts when the host or the daemon stops. Set the monitor\'s period to daemon.intervalSec and its grace to about two periods. POST carries the host and its result counts; GET for ping-only services.'),
      plainHttpTo: z.array(cidr).default([]).describe('Private networks (loopback, 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) whose addresses the Slack and webhook URLs and the heartbeat URLs may reach over plain http: an internal relay, Mattermost on the LAN, a test stand-in. The URL must name an IP address inside one of them. Empty: https only.'),
      caFile: path.optional().describe('PEM CA file, on the operator machine, that the health daemon trusts besides the system CAs for its HTTPS clients: alert webhooks and heartbeat pushes behind a private CA. Installed on the host. `~/` is expanded.'),
      runbookUrl: z.url({ protocol: /^https?$/ }).optional().describe('Where your team reads RUNBOOK.md (e.g. its page in your git host); every alert links `<runbookUrl>#<check>`. Default: the bare anchor `RUNBOOK.md#<check>`.'),
    })
    .prefault({})
    .describe('Alert destinations.'),

  secrets: z
    .strictObject({
      file: path.optional().describe('YAML file of secret values (mode 0600, git-ignored) for `{ key: ... }` references. `~/` is expanded; relative to the inventory.'),
      jwtSecret: secretRef.describe('HS256 secret that verifies signaling tokens (JWT_SECRET), at least 32 characters.'),
      adminToken: secretRef.describe('Bearer token for /status and /metrics (ADMIN_TOKEN), at least 32 characters.'),
      turnSecret: secretRef.describe('coturn static-auth-secret shared with the server (TURN_SECRET), at least 32 characters.'),
      nodeExporterPassword: secretRef.optional().describe('Password of the user `prometheus` that node_exporter asks for (HTTP basic auth; the host keeps only its bcrypt hash), 32 to 72 characters. Default: the admin token.'),
      slackWebhookUrl: secretRef.optional().describe('Slack incoming webhook URL for alerts.'),
      webhookUrl: secretRef.optional().describe('Generic alert webhook URL (alerts.webhook).'),
      webhookToken: secretRef.optional().describe('Bearer token sent to the generic alert webhook (optional).'),
      heartbeatUrl: secretRef.optional().describe('The push URL of the dead-man heartbeat (alerts.heartbeat); it names the monitor, so it is a secret.'),
      jwtSecretPrevious: secretRef.optional().describe('Only while rotating the JWT secret: the old one. The server still accepts tokens it signed (JWT_SECRET_PREVIOUS). Remove it once every token signed with it has expired (RUNBOOK.md#rotate-secrets).'),
      turnSecretPrevious: secretRef.optional().describe('Only while rotating the TURN secret: the old one. coturn accepts credentials minted with either (two static-auth-secret lines). Remove it once credentials minted with it have expired (turn.credentialTtlSec).'),
    })
    .describe('Where secret values come from. Values are never written in the inventory.'),
});

export type HostSettings = z.output<typeof hostSettingsSchema>;

const name = z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'must be lower case letters, digits and dashes' });

/** The file's top level; each layer under it is checked against a deep-partial view of hostSettingsSchema (load.ts). */
export const TOP_LEVEL_KEYS = ['defaults', 'groups', 'hosts'] as const;
/** Host and group names. */
export const NAME_PATTERN = name;
