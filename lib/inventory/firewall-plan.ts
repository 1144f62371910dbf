import type { ResolvedHost } from './resolve.js';

/** The UFW policy for a host, as data: provisioning applies it, tests and `render` show it. */
export interface FirewallPlan {
  defaults: { incoming: 'deny'; outgoing: 'allow'; routed: 'deny' };
  rules: FirewallRule[];
}

export interface FirewallRule {
  action: 'allow' | 'limit';
  proto: 'tcp' | 'udp';
  /** One port, or an inclusive range. */
  port: number | { min: number; max: number };
  /** A CIDR, or 'any'. */
  from: string;
  comment: string;
}

/** The ports mediasoup needs in both deploy slots: the WebRtcServer ports (one per worker and slot) or the per-transport range. */
export function mediaPorts(host: Pick<ResolvedHost, 'mediasoup' | 'app'>): { min: number; max: number } {
  const base = host.mediasoup.webRtcServerPort;
  return base === undefined ? host.mediasoup.rtcPorts : { min: base, max: base + 2 * host.app.numWorkers - 1 };
}

export function planFirewall(host: ResolvedHost): FirewallPlan {
  const rules: FirewallRule[] = [];
  const add = (action: FirewallRule['action'], proto: FirewallRule['proto'], port: FirewallRule['port'], from: string, comment: string) =>
    rules.push({ action, proto, port, from, comment });

  for (const cidr of host.adminCidrs) add(host.firewall.sshRateLimit ? 'limit' : 'allow', 'tcp', host.ssh.port, cidr, 'ssh from admin network');
  add('allow', 'tcp', 80, 'any', 'http: acme challenges and redirect');
  add('allow', 'tcp', 443, 'any', 'https: signaling');
  add('allow', 'udp', host.turn.port, 'any', 'turn');
  add('allow', 'tcp', host.turn.port, 'any', 'turn over tcp');
  add('allow', 'tcp', host.turn.tlsPort, 'any', 'turn over tls');
  add('allow', 'udp', host.turn.relayPorts, 'any', 'turn relay');
  add('allow', 'udp', mediaPorts(host), 'any', 'mediasoup rtc');
  add('allow', 'tcp', mediaPorts(host), 'any', 'mediasoup rtc over tcp');
  if (host.nodeExporter.enabled) {
    for (const cidr of host.adminCidrs) add('allow', 'tcp', host.nodeExporter.port, cidr, 'node_exporter from admin network');
  }
  for (const rule of host.firewall.extraRules) add('allow', rule.proto, rule.port, rule.from ?? 'any', rule.comment);

  return { defaults: { incoming: 'deny', outgoing: 'allow', routed: 'deny' }, rules };
}

/** A plan that would lock the operator out is refused. */
export function hasSshRule(plan: FirewallPlan, sshPort: number): boolean {
  return plan.rules.some((r) => r.proto === 'tcp' && r.port === sshPort && r.from !== 'any');
}

/** The ufw command lines that apply a plan, one argv per command. */
export function ufwCommands(plan: FirewallPlan): string[][] {
  const commands = [
    ['ufw', 'default', plan.defaults.incoming, 'incoming'],
    ['ufw', 'default', plan.defaults.outgoing, 'outgoing'],
    ['ufw', 'default', plan.defaults.routed, 'routed'],
  ];
  for (const r of plan.rules) {
    const port = typeof r.port === 'number' ? String(r.port) : `${r.port.min}:${r.port.max}`;
    commands.push(['ufw', r.action, 'proto', r.proto, 'from', r.from, 'to', 'any', 'port', port, 'comment', r.comment]);
  }
  return commands;
}
