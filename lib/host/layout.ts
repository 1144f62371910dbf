import type { ResolvedHost } from '../inventory/index.js';

/**
 * Where rtcops keeps things on a host: every path and binary that provisioning, deploys, backups, restores and
 * checks name. The app's own folders (app.root and what hangs off it) are derived once from the inventory in
 * lib/inventory/resolve.ts; this module adds everything else and names them all in one record.
 */

/** Everything runs Node.js through this path (PM2's unit, the health daemon's unit, deploys). */
export const NODE_BIN = '/usr/local/bin/node';
export const PM2_BIN = '/usr/local/bin/pm2';
/** What a command run as the app user finds on its PATH (node and pm2 first). */
export const APP_PATH = '/usr/local/bin:/usr/bin:/bin';
/** Uploaded runtimes: Node.js binaries and PM2 versions, one folder each. */
export const OPT_DIR = '/opt/rtcops';
export const ETC_DIR = '/etc/rtcops';
export const LOG_DIR = '/var/log/rtcops';
/** rtcops's own state on a host (the firewall's last applied rules, the lockout guard's revert scripts). */
export const STATE_DIR = '/var/lib/rtcops';
/** One JSON line per provisioning run. */
export const PROVISION_LOG = `${LOG_DIR}/provision.log`;
/** One JSON line per deploy, rollback and lock break. */
export const DEPLOY_LOG = `${LOG_DIR}/deploy.log`;
/** Where a custom ACME server's CA (a staging or test directory) is installed on the host for certbot. */
export const ACME_CA_PATH = `${ETC_DIR}/acme-ca.pem`;
/** Where the roots a test ACME server's certificates chain to (acme.issuerRoots) are installed for the health daemon. */
export const ISSUER_ROOTS_PATH = `${ETC_DIR}/acme-issuer-roots.pem`;
/** Where alerts.caFile is installed: the CA the health daemon trusts for its webhooks and heartbeat pushes. */
export const ALERTS_CA_PATH = `${ETC_DIR}/alerts-ca.pem`;
/** Makes certbot's renewals trust ACME_CA_PATH. */
export const CERTBOT_DROPIN = '/etc/systemd/system/certbot.service.d/rtcops-acme-ca.conf';
export const LETSENCRYPT = '/etc/letsencrypt';
export const NGINX_DEFAULT_SITE = '/etc/nginx/sites-enabled/default';
/** Debian's prometheus-node-exporter unit reads its flags (ARGS) from here. */
export const NODE_EXPORTER_DEFAULTS = '/etc/default/prometheus-node-exporter';
/** node_exporter's --web.config.file (exporter-toolkit): basic_auth_users; readable by the prometheus user only. */
export const NODE_EXPORTER_WEB_CONFIG = '/etc/prometheus/rtcops-node-exporter-web.yml';

export interface HostLayout {
  /** The app user's home, and PM2_HOME inside it (what the pm2-<user> systemd unit uses). */
  home: string;
  pm2Home: string;
  /** The systemd unit `pm2 startup` writes for the app user. */
  pm2Unit: string;
  root: string;
  releases: string;
  /** Symlinks to the release serving and the one a rollback returns to. */
  current: string;
  previous: string;
  /** The deploy lock's record (who holds it) and the file its holder keeps flock'ed. */
  lock: string;
  flock: string;
  daemonUnit: string;
  /** Where the health daemon's unit runs the bundle from. */
  daemonEntry: string;
  daemonStateDir: string;
  /** The health daemon's alert state (survives restarts). */
  alertStateFile: string;
  /** Written by a deploy while it restarts the app (lib/alerting/deploy-marker.ts), read by the health daemon. */
  deployMarker: string;
  /** The app's nginx sites: the TLS one, the HTTP-only one served until a certificate exists, and the enabled link. */
  nginxSite: string;
  nginxFirstBootSite: string;
  nginxEnabledSite: string;
  /** The 443 router (turn.tls443): a `stream {}` block, so it sits where Debian's nginx.conf includes main-context files. */
  nginxStream: string;
  /** worker_shutdown_timeout, in nginx's main context: how long old workers keep the old deploy slot's connections. */
  nginxShutdown: string;
  certbotDeployHook: string;
  /** The nftables rule set that keeps TURN relays to this host on its media ports, and the unit that loads it at boot. */
  relayGuardFile: string;
  relayGuardUnit: string;
  /** Its nftables table (inet family), apart from ufw's and fail2ban's. */
  relayGuardTable: string;
  /** sha256 of the table as the unit last loaded it (`nft list table`), to see a hand edit or a flush. */
  relayGuardLoaded: string;
}

export function layoutOf(host: ResolvedHost): HostLayout {
  const { app } = host;
  const home = `/home/${app.user}`;
  return {
    home,
    pm2Home: `${home}/.pm2`,
    pm2Unit: `pm2-${app.user}`,
    root: app.root,
    releases: app.releasesDir,
    current: app.currentDir,
    previous: `${app.root}/previous`,
    lock: `${app.root}/.deploy.lock`,
    flock: `${app.root}/.deploy.flock`,
    daemonUnit: `${app.name}-health.service`,
    daemonEntry: `${app.daemonDir}/dist/daemon/main.js`,
    daemonStateDir: `/var/lib/${app.name}-health`,
    alertStateFile: `/var/lib/${app.name}-health/alerts.json`,
    deployMarker: `/var/lib/${app.name}-health/deploy.json`,
    nginxSite: `/etc/nginx/sites-available/${app.name}.conf`,
    nginxFirstBootSite: `/etc/nginx/sites-available/${app.name}-first-boot.conf`,
    nginxEnabledSite: `/etc/nginx/sites-enabled/${app.name}.conf`,
    nginxStream: `/etc/nginx/modules-enabled/90-${app.name}-stream.conf`,
    nginxShutdown: `/etc/nginx/modules-enabled/90-${app.name}-shutdown.conf`,
    certbotDeployHook: `${LETSENCRYPT}/renewal-hooks/deploy/${app.name}.sh`,
    relayGuardFile: `${ETC_DIR}/${app.name}-turn-relay-guard.nft`,
    relayGuardUnit: `${app.name}-turn-relay-guard.service`,
    relayGuardTable: `${app.name.replaceAll('-', '_')}_turn_relay_guard`,
    relayGuardLoaded: `/run/${app.name}-turn-relay-guard.sha256`,
  };
}

/** One release's directory. */
export function releaseDir(host: ResolvedHost, id: string): string {
  return `${host.app.releasesDir}/${id}`;
}
