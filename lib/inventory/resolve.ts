import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { defaultSshdBackend, osFamily, type OsFamily } from './os.js';
import type { HostSettings } from './schema.js';
import { turnUrls } from '../turn/url.js';

export const SLOT_NAMES = ['a', 'b'] as const;
export type SlotName = (typeof SLOT_NAMES)[number];

/**
 * One of the two places a release runs in: a deploy starts the new release in the slot that is not serving, beside
 * the old one, with its own PM2 process, HTTP port and media ports, and nginx is switched to it once it passed the gate.
 */
export interface DeploySlot {
  name: SlotName;
  /** Its PM2 process: <app.name>-<slot>. */
  pm2Name: string;
  /** Its HTTP port on 127.0.0.1 (PORT). */
  port: number;
  /** Its share of mediasoup.rtcPorts (RTC_MIN_PORT, RTC_MAX_PORT). */
  rtcPorts: { min: number; max: number };
  /** Its first WebRtcServer port (WEBRTC_SERVER_PORT), in WebRtcServer mode. */
  webRtcServerPort: number | undefined;
  /** The symlink to the release it runs; its PM2 process starts from there. */
  dir: string;
}

/** Slot a: app.port, the lower half of the RTC range, the first numWorkers WebRtcServer ports; slot b: the rest. */
export function deploySlots(s: Pick<HostSettings, 'app' | 'mediasoup'>, root: string): Record<SlotName, DeploySlot> {
  const { min, max } = s.mediasoup.rtcPorts;
  const half = Math.floor((max - min + 1) / 2);
  const base = s.mediasoup.webRtcServerPort;
  const slot = (name: SlotName, i: number, port: number, rtcPorts: { min: number; max: number }): DeploySlot => ({
    name, pm2Name: `${s.app.name}-${name}`, port, rtcPorts, webRtcServerPort: base === undefined ? undefined : base + i * s.app.numWorkers, dir: `${root}/slots/${name}`,
  });
  return {
    a: slot('a', 0, s.app.port, { min, max: min + half - 1 }),
    b: slot('b', 1, s.app.slotBPort ?? s.app.port + 1, { min: min + half, max }),
  };
}

/** A host with every default and derived value filled in: what templates and steps read. */
export interface ResolvedHost extends Omit<HostSettings, 'ssh' | 'app' | 'turn' | 'sshd' | 'fail2ban' | 'pm2' | 'acme' | 'alerts' | 'secrets'> {
  name: string;
  groups: string[];
  /** Debian or Ubuntu: what rendered files that differ between the two go by (lib/inventory/os.ts). */
  osFamily: OsFamily;
  ssh: HostSettings['ssh'] & { keyPath: string; knownHostsFile: string | undefined; sudo: boolean };
  acme: HostSettings['acme'] & { caBundle: string | undefined; issuerRoots: string | undefined };
  alerts: HostSettings['alerts'] & { caFile: string | undefined };
  app: HostSettings['app'] & {
    slotBPort: number;
    /** The two deploy slots (lib/deploy: the new release starts in the idle one). */
    slots: Record<SlotName, DeploySlot>;
    root: string;
    releasesDir: string;
    currentDir: string;
    sharedDir: string;
    logDir: string;
    /** The server's output log: PM2 out_file, and the file the signaling fail2ban jail reads. */
    outLog: string;
    errorLog: string;
    envFile: string;
    ecosystemFile: string;
    script: string;
    daemonDir: string;
    daemonEnvFile: string;
    daemonConfigFile: string;
  };
  tls: {
    certName: string;
    /** Every name on the certificate: app.domains then turn.domain. */
    names: string[];
    fullchain: string;
    privkey: string;
    webroot: string;
  };
  turn: HostSettings['turn'] & {
    realm: string;
    externalIp: string;
    allowedPeerIps: string[];
    urls: string[];
    /** Unset on hosts: Debian's coturn.service passes --pidfile= itself. */
    pidFile: string | undefined;
    userDbFile: string;
    logFile: string;
  };
  sshd: HostSettings['sshd'] & { permitRootLogin: 'no' | 'prohibit-password' };
  fail2ban: HostSettings['fail2ban'] & { sshdBackend: 'systemd' | 'auth.log'; authLog: string };
  pm2: HostSettings['pm2'] & { killTimeoutMs: number };
  /** upstreamFile: which deploy slot nginx sends callers to (lib/deploy/slots.ts writes it, provisioning only creates it). */
  nginx: HostSettings['nginx'] & { logDir: string; upstreamFile: string };
  secrets: HostSettings['secrets'] & { file: string | undefined };
}

/** `~/x` against the operator's home, relative paths against the inventory's folder. */
export function expandPath(path: string, inventoryFile: string): string {
  if (path === '~' || path.startsWith('~/')) return resolvePath(homedir(), path.slice(2));
  return isAbsolute(path) ? path : resolvePath(dirname(inventoryFile), path);
}

function optionalPath(path: string | undefined, inventoryFile: string): string | undefined {
  return path === undefined ? undefined : expandPath(path, inventoryFile);
}

/** Fill values derived from other keys. The only place besides schema.ts that decides a default. */
export function resolveHost(name: string, groups: string[], s: HostSettings, inventoryFile: string): ResolvedHost {
  const root = s.app.root ?? `/srv/${s.app.name}`;
  const sharedDir = `${root}/shared`;
  const logDir = `${sharedDir}/logs`;
  const certName = s.app.domains[0] ?? '';
  const announced = s.mediasoup.announcedIp;
  return {
    ...s,
    name,
    groups,
    osFamily: osFamily(s.os),
    ssh: {
      ...s.ssh,
      keyPath: expandPath(s.ssh.keyPath, inventoryFile),
      knownHostsFile: optionalPath(s.ssh.knownHostsFile, inventoryFile),
      sudo: s.ssh.sudo ?? s.ssh.user !== 'root',
    },
    acme: { ...s.acme, caBundle: optionalPath(s.acme.caBundle, inventoryFile), issuerRoots: optionalPath(s.acme.issuerRoots, inventoryFile) },
    alerts: { ...s.alerts, caFile: optionalPath(s.alerts.caFile, inventoryFile) },
    app: {
      ...s.app,
      slotBPort: s.app.slotBPort ?? s.app.port + 1,
      slots: deploySlots(s, root),
      root,
      releasesDir: `${root}/releases`,
      currentDir: `${root}/current`,
      sharedDir,
      logDir,
      outLog: `${logDir}/${s.app.name}.out.log`,
      errorLog: `${logDir}/${s.app.name}.error.log`,
      envFile: `${sharedDir}/${s.app.name}.env`,
      ecosystemFile: `${sharedDir}/ecosystem.config.cjs`,
      script: `${root}/current/dist/server/main.js`,
      daemonDir: `${root}/daemon`,
      daemonEnvFile: `${sharedDir}/${s.app.name}-daemon.env`,
      daemonConfigFile: `${sharedDir}/${s.app.name}-daemon.json`,
    },
    tls: {
      certName,
      names: [...new Set([...s.app.domains, s.turn.domain])],
      fullchain: `/etc/letsencrypt/live/${certName}/fullchain.pem`,
      privkey: `/etc/letsencrypt/live/${certName}/privkey.pem`,
      webroot: `/var/www/${s.app.name}-acme`,
    },
    turn: {
      ...s.turn,
      realm: s.turn.realm ?? s.turn.domain,
      externalIp: s.turn.externalIp ?? announced,
      allowedPeerIps: s.turn.allowedPeerIps ?? [announced],
      urls: turnUrls(s.turn.domain, s.turn),
      pidFile: undefined,
      userDbFile: '/var/lib/turn/turndb',
      logFile: s.turn.log === 'syslog' ? 'syslog' : '/var/log/turnserver/turnserver.log',
    },
    sshd: {
      ...s.sshd,
      allowUsers: s.sshd.allowUsers.length > 0 ? s.sshd.allowUsers : [s.ssh.user],
      permitRootLogin: s.ssh.user === 'root' ? 'prohibit-password' : 'no',
    },
    fail2ban: { ...s.fail2ban, sshdBackend: s.fail2ban.sshdBackend ?? defaultSshdBackend(s.os), authLog: '/var/log/auth.log' },
    pm2: { ...s.pm2, killTimeoutMs: s.pm2.killTimeoutMs ?? s.app.drainTimeoutMs + 5000 },
    nginx: { ...s.nginx, logDir: '/var/log/nginx', upstreamFile: `/etc/nginx/${s.app.name}-upstream.conf` },
    secrets: { ...s.secrets, file: optionalPath(s.secrets.file, inventoryFile) },
  };
}
