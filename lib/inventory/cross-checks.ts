import { isCidr, isPrivateCidr, PRIVATE_CIDRS } from './checks.js';
import type { PathSegment } from './errors.js';
import { hasSshRule, mediaPorts, planFirewall } from './firewall-plan.js';
import type { ResolvedHost } from './resolve.js';

export interface HostIssue {
  path: PathSegment[];
  message: string;
}

interface PortClaim {
  path: PathSegment[];
  label: string;
  proto: 'tcp' | 'udp';
  min: number;
  max: number;
}

const range = (min: number, max: number) => (min === max ? String(min) : `${min}-${max}`);

/** Ports the host binds or opens; two claims on the same protocol must not overlap. */
function portClaims(h: ResolvedHost): PortClaim[] {
  const one = (path: PathSegment[], label: string, proto: 'tcp' | 'udp', port: number): PortClaim => ({ path, label, proto, min: port, max: port });
  const media = mediaPorts(h);
  const mediaPath: PathSegment[] = h.mediasoup.webRtcServerPort === undefined ? ['mediasoup', 'rtcPorts'] : ['mediasoup', 'webRtcServerPort'];
  const claims: PortClaim[] = [
    one(['ssh', 'port'], 'ssh.port', 'tcp', h.ssh.port),
    one([], 'nginx http', 'tcp', 80),
    one([], 'nginx https', 'tcp', 443),
    one(['app', 'port'], 'app.port', 'tcp', h.app.port),
    one(['app', 'slotBPort'], 'app.slotBPort', 'tcp', h.app.slotBPort),
    one(['turn', 'port'], 'turn.port', 'udp', h.turn.port),
    one(['turn', 'port'], 'turn.port', 'tcp', h.turn.port),
    one(['turn', 'tlsPort'], 'turn.tlsPort', 'tcp', h.turn.tlsPort),
    { path: ['turn', 'relayPorts'], label: 'turn.relayPorts', proto: 'udp', ...h.turn.relayPorts },
    { path: mediaPath, label: mediaPath.join('.'), proto: 'udp', ...media },
    { path: mediaPath, label: mediaPath.join('.'), proto: 'tcp', ...media },
  ];
  if (h.turn.tls443) {
    claims.push(one(['nginx', 'loopbackPorts', 'https'], 'nginx.loopbackPorts.https', 'tcp', h.nginx.loopbackPorts.https));
    claims.push(one(['nginx', 'loopbackPorts', 'turnTls'], 'nginx.loopbackPorts.turnTls', 'tcp', h.nginx.loopbackPorts.turnTls));
  }
  if (h.nodeExporter.enabled) claims.push(one(['nodeExporter', 'port'], 'nodeExporter.port', 'tcp', h.nodeExporter.port));
  // Last: an overlap is reported on it, the key more likely set by hand than the ranges.
  claims.push(one(['daemon', 'turnEchoPort'], 'daemon.turnEchoPort', 'udp', h.daemon.turnEchoPort));
  return claims;
}

function overlaps(claims: PortClaim[]): HostIssue[] {
  const issues: HostIssue[] = [];
  const seen = new Set<string>();
  for (const [i, later] of claims.entries()) {
    for (const earlier of claims.slice(0, i)) {
      // Report on the key the operator can change: a fixed port (80, 443) has no key.
      const [a, b] = later.path.length > 0 ? [later, earlier] : [earlier, later];
      if (a.proto !== b.proto || a.max < b.min || b.max < a.min || a.label === b.label) continue;
      const key = `${a.label}|${b.label}`;
      if (seen.has(key)) continue;
      seen.add(key);
      issues.push({
        path: a.path,
        message: `${range(a.min, a.max)}/${a.proto} overlaps ${b.label} ${range(b.min, b.max)}/${b.proto}`,
      });
    }
  }
  return issues;
}

/** Rules that span several keys; each issue points at the key to change. */
export function crossCheck(h: ResolvedHost): HostIssue[] {
  const issues: HostIssue[] = [];
  const problem = (path: PathSegment[], message: string) => issues.push({ path, message });

  const pins = [h.ssh.hostKey, h.ssh.fingerprint, h.ssh.knownHostsFile].filter((v) => v !== undefined).length;
  if (pins === 0) problem(['ssh'], 'pin the host key: set one of hostKey, fingerprint or knownHostsFile');
  if (pins > 1) problem(['ssh'], 'set only one of hostKey, fingerprint or knownHostsFile');
  if (h.ssh.user !== 'root' && !h.ssh.sudo) problem(['ssh', 'sudo'], `must be true when connecting as "${h.ssh.user}" (only root needs no sudo)`);

  let rangesValid = true;
  for (const path of [['mediasoup', 'rtcPorts'], ['turn', 'relayPorts']] as const) {
    const r = path[0] === 'mediasoup' ? h.mediasoup.rtcPorts : h.turn.relayPorts;
    if (r.min >= r.max) {
      problem([...path], `min ${r.min} must be < max ${r.max}`);
      rangesValid = false;
    }
  }
  const base = h.mediasoup.webRtcServerPort;
  if (base !== undefined && base + 2 * h.app.numWorkers - 1 > 65535) {
    problem(['mediasoup', 'webRtcServerPort'], `${base} + ${h.app.numWorkers} workers in each of the 2 deploy slots runs past port 65535`);
    rangesValid = false;
  }
  if (h.app.slotBPort > 65535) {
    problem(['app', 'slotBPort'], `app.port + 1 is past port 65535: set app.slotBPort, the second deploy slot's port`);
    rangesValid = false;
  }
  if (rangesValid) issues.push(...overlaps(portClaims(h)));

  if (h.mediasoup.announcedIp === '0.0.0.0' || h.mediasoup.announcedIp === '::') {
    problem(['mediasoup', 'announcedIp'], 'must be the address clients reach, not an unspecified address');
  }

  if (!h.sshd.allowUsers.includes(h.ssh.user)) {
    problem(['sshd', 'allowUsers'], `must include the deploy user "${h.ssh.user}" (ssh.user), or rtcops locks itself out`);
  }

  if (h.pm2.killTimeoutMs <= h.app.drainTimeoutMs) {
    problem(['pm2', 'killTimeoutMs'], `${h.pm2.killTimeoutMs} must be greater than app.drainTimeoutMs ${h.app.drainTimeoutMs}, or PM2 kills the server mid-drain`);
  }

  for (const [i, rule] of h.firewall.extraRules.entries()) {
    if (rule.proto === 'tcp' && rule.port === h.ssh.port) {
      problem(['firewall', 'extraRules', i, 'port'], `${rule.port}/tcp is SSH: it is opened to adminCidrs only`);
    }
  }
  if (h.adminCidrs.length > 0 && !hasSshRule(planFirewall(h), h.ssh.port)) {
    problem(['adminCidrs'], 'the firewall plan has no SSH rule');
  }

  if (h.alerts.slack && h.secrets.slackWebhookUrl === undefined) problem(['secrets', 'slackWebhookUrl'], 'is required when alerts.slack is true');
  if (h.alerts.webhook && h.secrets.webhookUrl === undefined) problem(['secrets', 'webhookUrl'], 'is required when alerts.webhook is true');
  if (h.alerts.heartbeat !== undefined && h.secrets.heartbeatUrl === undefined) problem(['secrets', 'heartbeatUrl'], 'is required when alerts.heartbeat is set');
  for (const [i, c] of h.alerts.plainHttpTo.entries()) {
    if (isCidr(c) && !isPrivateCidr(c)) problem(['alerts', 'plainHttpTo', i], `${c} is not a private network (${PRIVATE_CIDRS.join(', ')}): alerts cross the Internet over https only`);
  }
  for (const [name, ref] of Object.entries(h.secrets)) {
    if (ref === undefined || typeof ref === 'string') continue;
    if ((ref.env === undefined) === (ref.key === undefined)) problem(['secrets', name], 'set exactly one of env or key');
    else if (ref.key !== undefined && h.secrets.file === undefined) problem(['secrets', name, 'key'], 'needs secrets.file to read the key from');
  }
  return issues;
}
