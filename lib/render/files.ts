import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { mediaPorts, planFirewall, ufwCommands, type FirewallPlan, type HostSecrets, type ResolvedHost } from '../inventory/index.js';
import { renderTemplate } from './engine.js';
import { ALERTS_CA_PATH, layoutOf, NODE_EXPORTER_DEFAULTS, NODE_EXPORTER_WEB_CONFIG } from '../host/index.js';
import { NODE_EXPORTER_USER, nodeExporterArgs, nodeExporterHash, nodeExporterPassword, webConfigFlag } from './node-exporter.js';
import { daemonConfig, daemonSecretEnv, ecosystem, pm2LogrotateCommands, serverSecretEnv, turnAddress } from './server-env.js';

/** alerts.caFile as it is installed on the host; resolveHostInputs already checked it can be read. */
function readCaFile(file: string): string {
  const pem = readFileSync(file, 'utf8');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`alerts.caFile ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return pem;
}

/** One file as it lands on the host. `content` of a secret-bearing file must never be printed. */
export interface RenderedFile {
  id: string;
  template: string;
  path: string;
  mode: string;
  owner: string;
  group: string;
  /** The program that reads the file, and validates it in tests. */
  validator: string;
  /** The provisioning step that installs it: sshd's has its own guarded step, every other one the config step. */
  installedBy: 'config' | 'sshd';
  /** Run on the host with the new file at $RTCOPS_FILE before it replaces the old one; non-zero puts the old one back. */
  validate?: string;
  /** Handlers to run once the file changed (lib/provision/apply.ts HANDLERS). */
  notify?: string[];
  secret: boolean;
  content: string;
}

export interface RenderResult {
  host: string;
  files: RenderedFile[];
  firewall: FirewallPlan;
  ufw: string[][];
  pm2Logrotate: string[][];
}

export interface RenderOptions {
  /** Inventory file name shown in each file's banner. */
  inventoryName?: string;
}

/** Loopback, private, shared (CGNAT), link-local (cloud metadata), documentation and reserved ranges. */
export const DENIED_PEER_RANGES = [
  '0.0.0.0-0.255.255.255',
  '10.0.0.0-10.255.255.255',
  '100.64.0.0-100.127.255.255',
  '127.0.0.0-127.255.255.255',
  '169.254.0.0-169.254.255.255',
  '172.16.0.0-172.31.255.255',
  '192.0.0.0-192.0.0.255',
  '192.0.2.0-192.0.2.255',
  '192.88.99.0-192.88.99.255',
  '192.168.0.0-192.168.255.255',
  '198.18.0.0-198.19.255.255',
  '198.51.100.0-198.51.100.255',
  '203.0.113.0-203.0.113.255',
  '240.0.0.0-255.255.255.255',
  '::1',
  '::ffff:0.0.0.0-::ffff:255.255.255.255',
  '64:ff9b::-64:ff9b::ffff:ffff',
  'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  '2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff',
];

/** The units an unattended upgrade must not restart on its own: each restart drops the calls in progress. */
export function neverRestarted(host: ResolvedHost): string[] {
  const { pm2Unit, daemonUnit } = layoutOf(host);
  return ['nginx.service', 'coturn.service', `${pm2Unit}.service`, daemonUnit];
}

/** The user coturn's Debian/Ubuntu unit runs it as: relayed datagrams leave as this user. */
export const COTURN_USER = 'turnserver';
/** The packet mark the relay guard gives a relayed datagram it drops on arrival ("RTOP"); only its own table reads it. */
export const RELAY_GUARD_MARK = '0x52544f50';

/** host:port as nginx reads it (IPv6 in brackets). */
const hostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** node_exporter has no check mode: a web config it refuses makes it exit at once, a good one keeps it serving (timeout: 124). */
function nodeExporterStartsWith(host: ResolvedHost): string {
  return `rc=0; runuser -u prometheus -- timeout 1 prometheus-node-exporter ${webConfigFlag(host)}="$RTCOPS_FILE" --web.listen-address=127.0.0.1:0 --collector.disable-defaults || rc=$?; [ "$rc" = 124 ]`;
}

type FileSpec = Omit<RenderedFile, 'content'> & { context?: object };

/** Every file rtcops puts on a host, in the order it is installed: where it goes, who owns it, what reads it, how the host checks it, what reloads. */
function fileSpecs(host: ResolvedHost, secrets: HostSecrets): FileSpec[] {
  const app = host.app.name;
  const root = { owner: 'root', group: 'root' };
  const layout = layoutOf(host);
  const appOwned = { owner: host.app.user, group: host.app.user };
  const relayGuard = { table: layout.relayGuardTable, unit: layout.relayGuardUnit, file: layout.relayGuardFile, loaded: layout.relayGuardLoaded, user: COTURN_USER, mark: RELAY_GUARD_MARK, relayPorts: host.turn.relayPorts, mediaPorts: mediaPorts(host),
    echo: { family: host.mediasoup.announcedIp.includes(':') ? 'ip6' : 'ip', ip: host.mediasoup.announcedIp, port: host.daemon.turnEchoPort } };
  return [
    { id: 'nginx-site', template: 'nginx/site.conf.njk', path: layout.nginxSite, mode: '0644', ...root, validator: 'nginx -t', installedBy: 'config', validate: 'nginx -t -q', notify: ['reload nginx'], secret: false, context: { firstBoot: false } },
    { id: 'nginx-shutdown', template: 'nginx/shutdown.conf.njk', path: layout.nginxShutdown, mode: '0644', ...root, validator: 'nginx -t', installedBy: 'config', validate: 'nginx -t -q', notify: ['reload nginx'], secret: false, context: { timeoutSec: host.deploy.drainWaitSec + Math.ceil(host.pm2.killTimeoutMs / 1000) } },
    { id: 'nginx-site-first-boot', template: 'nginx/site.conf.njk', path: layout.nginxFirstBootSite, mode: '0644', ...root, validator: 'nginx -t', installedBy: 'config', validate: 'nginx -t -q', notify: ['reload nginx'], secret: false, context: { firstBoot: true } },
    // The 443 router (turn.tls443); comments only when it is off, so turning it off removes it.
    { id: 'nginx-stream', template: 'nginx/stream.conf.njk', path: layout.nginxStream, mode: '0644', ...root, validator: 'nginx -t', installedBy: 'config', validate: 'nginx -t -q', notify: ['reload nginx'], secret: false, context: { turnTarget: hostPort(turnAddress(host), host.turn.tlsPort) } },
    { id: 'turnserver', template: 'coturn/turnserver.conf.njk', path: '/etc/turnserver.conf', mode: '0640', owner: 'root', group: 'turnserver', validator: 'turnserver', installedBy: 'config', notify: ['restart coturn'], secret: true, context: { secrets: { turnSecret: secrets.turnSecret.reveal(), turnSecretPrevious: secrets.turnSecretPrevious?.reveal() }, deniedPeerRanges: DENIED_PEER_RANGES } },
    // The relay guard: nft checks the rule set (it resolves coturn's user); the unit loads it at boot, before coturn.
    { id: 'turn-relay-guard', template: 'nftables/turn-relay-guard.nft.njk', path: layout.relayGuardFile, mode: '0644', ...root, validator: 'nft -c -f', installedBy: 'config', validate: 'nft -c -f "$RTCOPS_FILE"', notify: ['reload turn relay guard'], secret: false, context: relayGuard },
    { id: 'turn-relay-guard-unit', template: 'systemd/turn-relay-guard.service.njk', path: `/etc/systemd/system/${layout.relayGuardUnit}`, mode: '0644', ...root, validator: 'systemd-analyze verify', installedBy: 'config', notify: ['systemd daemon-reload', 'reload turn relay guard'], secret: false, context: relayGuard },
    // fail2ban-client -t on jail.local reads its filters: they go first.
    { id: 'fail2ban-filter-signaling-auth', template: 'fail2ban/filter.d/rtcops-signaling-auth.conf', path: '/etc/fail2ban/filter.d/rtcops-signaling-auth.conf', mode: '0644', ...root, validator: 'fail2ban-regex', installedBy: 'config', validate: 'out=$(fail2ban-regex /dev/null "$RTCOPS_FILE" 2>&1) && ! printf "%s" "$out" | grep "^ERROR"', notify: ['restart fail2ban'], secret: false },
    { id: 'fail2ban-jail', template: 'fail2ban/jail.local.njk', path: '/etc/fail2ban/jail.local', mode: '0644', ...root, validator: 'fail2ban-client -t', installedBy: 'config', validate: 'fail2ban-client -t', notify: ['restart fail2ban'], secret: false },
    { id: 'sshd-hardening', template: 'ssh/sshd-hardening.conf.njk', path: `/etc/ssh/sshd_config.d/10-${app}-hardening.conf`, mode: '0644', ...root, validator: 'sshd -t', installedBy: 'sshd', validate: 'sshd -t', notify: ['reload ssh'], secret: false },
    // node may not be on the host yet during the first run: the deploy validates again.
    { id: 'pm2-ecosystem', template: 'pm2/ecosystem.config.cjs.njk', path: host.app.ecosystemFile, mode: '0644', ...appOwned, validator: 'node', installedBy: 'config', validate: 'if command -v node >/dev/null; then node -e "require(process.argv[1])" "$RTCOPS_FILE"; fi', secret: false, context: { ecosystem: ecosystem(host) } },
    { id: 'server-env', template: 'app/server.env.njk', path: host.app.envFile, mode: '0600', ...appOwned, validator: 'node --env-file', installedBy: 'config', secret: true, context: { env: serverSecretEnv(secrets) } },
    { id: 'certbot-deploy-hook', template: 'certbot/deploy-hook.sh.njk', path: layout.certbotDeployHook, mode: '0755', ...root, validator: 'sh -n', installedBy: 'config', validate: 'sh -n "$RTCOPS_FILE"', secret: false },
    { id: 'unattended-upgrades', template: 'apt/50unattended-upgrades.njk', path: '/etc/apt/apt.conf.d/50unattended-upgrades', mode: '0644', ...root, validator: 'apt-config', installedBy: 'config', validate: 'apt-config dump >/dev/null', secret: false },
    // needrestart evaluates its conf.d as Perl; perl-base is on every Debian and Ubuntu host.
    { id: 'needrestart', template: 'apt/needrestart.conf.njk', path: '/etc/needrestart/conf.d/50-rtcops.conf', mode: '0644', ...root, validator: 'perl -c', installedBy: 'config', validate: 'perl -c "$RTCOPS_FILE" 2>/dev/null', secret: false, context: { units: neverRestarted(host) } },
    { id: 'auto-upgrades', template: 'apt/20auto-upgrades.njk', path: '/etc/apt/apt.conf.d/20auto-upgrades', mode: '0644', ...root, validator: 'apt-config', installedBy: 'config', validate: 'apt-config dump >/dev/null', secret: false },
    { id: 'health-daemon-unit', template: 'systemd/health-daemon.service.njk', path: `/etc/systemd/system/${layout.daemonUnit}`, mode: '0644', ...root, validator: 'systemd-analyze verify', installedBy: 'config', notify: ['systemd daemon-reload', 'restart health daemon'], secret: false },
    { id: 'health-daemon-env', template: 'daemon/daemon.env.njk', path: host.app.daemonEnvFile, mode: '0600', ...root, validator: 'systemd EnvironmentFile', installedBy: 'config', notify: ['restart health daemon'], secret: true, context: { env: daemonSecretEnv(secrets) } },
    // node_exporter asks every request for a password (the firewall is not all that keeps it private): the web config
    // first, then the flags that name it. Validated as the service's user, which must be able to read it.
    ...(host.nodeExporter.enabled
      ? [
        { id: 'node-exporter-web', template: 'node-exporter/web.yml.njk', path: NODE_EXPORTER_WEB_CONFIG, mode: '0640', owner: 'root', group: 'prometheus', validator: 'promtool check web-config', installedBy: 'config' as const, validate: nodeExporterStartsWith(host), notify: ['restart node exporter'], secret: true, context: { user: NODE_EXPORTER_USER, hash: nodeExporterHash(host, nodeExporterPassword(secrets)) } },
        { id: 'node-exporter-defaults', template: 'node-exporter/defaults.njk', path: NODE_EXPORTER_DEFAULTS, mode: '0644', ...root, validator: 'sh -n', installedBy: 'config' as const, validate: 'sh -n "$RTCOPS_FILE"', notify: ['restart node exporter'], secret: false, context: { user: NODE_EXPORTER_USER, webConfig: NODE_EXPORTER_WEB_CONFIG, args: nodeExporterArgs(host) } },
      ]
      : []),
    ...(host.turn.log === 'file'
      ? [{ id: 'coturn-logrotate', template: 'logrotate/coturn.njk', path: '/etc/logrotate.d/coturn', mode: '0644', ...root, validator: 'logrotate -d', installedBy: 'config' as const, secret: false }]
      : []),
    // The daemon refuses a config whose CA file is missing: the CA goes first.
    ...(host.alerts.caFile !== undefined
      ? [{ id: 'health-daemon-alerts-ca', template: 'daemon/alerts-ca.pem.njk', path: ALERTS_CA_PATH, mode: '0644', ...root, validator: 'openssl x509', installedBy: 'config' as const, validate: 'openssl x509 -noout -in "$RTCOPS_FILE"', notify: ['restart health daemon'], secret: false, context: { pem: readCaFile(host.alerts.caFile) } }]
      : []),
    { id: 'health-daemon-config', template: 'daemon/daemon.json.njk', path: host.app.daemonConfigFile, mode: '0644', ...root, validator: 'JSON.parse', installedBy: 'config', validate: 'python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$RTCOPS_FILE"', notify: ['restart health daemon'], secret: false, context: { config: daemonConfig(host) } },
  ];
}

/** Render every file for one validated host. Pure: writes nothing. */
export function renderHost(host: ResolvedHost, secrets: HostSecrets, options: RenderOptions = {}): RenderResult {
  const banner = `Rendered by rtcops from ${basename(options.inventoryName ?? 'inventory.yaml')} for host ${host.name}. Changes made on the host are overwritten.`;
  const files = fileSpecs(host, secrets).map(({ context, ...spec }) => ({
    ...spec,
    content: renderTemplate(spec.template, { host, banner, ...context }),
  }));
  const firewall = planFirewall(host);
  return { host: host.name, files, firewall, ufw: ufwCommands(firewall), pm2Logrotate: pm2LogrotateCommands(host) };
}
