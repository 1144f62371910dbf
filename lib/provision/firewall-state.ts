// What the firewall step compares: the planned rules, ufw's rule files and the rule set the kernel has loaded, as
// plain text, so drift is reported rule by rule. Pure functions; the step (steps/firewall.ts) gathers the facts.

import { STATE_DIR } from '../host/index.js';

/** Where the step keeps what it applied: the plan, the files it installed and the loaded rule set they give. */
export const FIREWALL_DIR = `${STATE_DIR}/firewall`;
export const FIREWALL_STATE = `${FIREWALL_DIR}/state.json`;
export const LOADED_V4 = `${FIREWALL_DIR}/loaded.v4`;
export const LOADED_V6 = `${FIREWALL_DIR}/loaded.v6`;
/** `path sha256` of each of UFW_FILES as installed. */
export const INSTALLED_FILES = `${FIREWALL_DIR}/files.sha256`;

/** ufw's files: what ufw loads at boot, so the step owns all of them (a hand edit to before.rules is drift too). */
export const UFW_FILES = [
  '/etc/ufw/user.rules', '/etc/ufw/user6.rules', '/etc/ufw/before.rules', '/etc/ufw/before6.rules',
  '/etc/ufw/after.rules', '/etc/ufw/after6.rules', '/etc/ufw/ufw.conf', '/etc/default/ufw',
];

/** `iptables-save -t filter` without its timestamps and packet counters: two saves of one rule set compare equal. */
export const NORMALIZE = `sed -E '/^#/d; s/\\[[0-9]+:[0-9]+\\]/[0:0]/'`;

export interface FirewallState {
  plan: string;
  /** The planned rules, described (describeUfwCommand), to say what a plan change adds and removes. */
  rules: string[];
}

export function parseState(text: string | undefined): FirewallState | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    const s = JSON.parse(text) as Partial<FirewallState>;
    return typeof s.plan === 'string' && Array.isArray(s.rules) ? s as FirewallState : undefined;
  } catch {
    return undefined;
  }
}

/** `ufw allow proto tcp from 10.0.0.1/32 to any port 22 comment x` → `allow tcp 22 from 10.0.0.1 (x)`; defaults → `default deny incoming`. */
export function describeUfwCommand(argv: readonly string[]): string {
  const [, verb, ...rest] = argv;
  if (verb === 'default') return `default ${rest.join(' ')}`;
  const at = (k: string) => rest[rest.indexOf(k) + 1] ?? '';
  const comment = rest.includes('comment') ? ` (${at('comment')})` : '';
  return `${verb} ${at('proto')} ${at('port')} from ${hostOnly(at('from'))}${comment}`;
}

const hostOnly = (cidr: string) => cidr.replace(/\/(32|128)$/, '');

/**
 * ufw's `### tuple ###` lines (user.rules, user6.rules) described like the plan's rules. The IPv6 copy ufw keeps of
 * every rule from anywhere describes the same; the set says each once.
 */
export function describeTuples(lines: string): string[] {
  const out = new Set<string>();
  for (const line of lines.split('\n')) {
    const m = /^### tuple ### (\S+) (\S+) (\S+) \S+ \S+ (\S+) in(?: comment=([0-9a-f]*))?/.exec(line.trim());
    if (m === null) continue;
    const [, action, proto, port, src, hex] = m;
    const from = src === '0.0.0.0/0' || src === '::/0' ? 'any' : hostOnly(src ?? '');
    const comment = hex === undefined ? '' : ` (${Buffer.from(hex, 'hex').toString('utf8')})`;
    out.add(`${action} ${proto} ${port} from ${from}${comment}`);
  }
  return [...out];
}

/** What `want` has that `have` lacks (missing) and the reverse (extra), each in its list's order; repeated lines count. */
export function lineDelta(have: readonly string[], want: readonly string[]): { missing: string[]; extra: string[] } {
  const remaining = new Map<string, number>();
  for (const l of have) remaining.set(l, (remaining.get(l) ?? 0) + 1);
  const missing: string[] = [];
  for (const l of want) {
    const n = remaining.get(l) ?? 0;
    if (n > 0) remaining.set(l, n - 1);
    else missing.push(l);
  }
  const extra: string[] = [];
  for (const l of have) {
    const n = remaining.get(l) ?? 0;
    if (n > 0) {
      extra.push(l);
      remaining.set(l, n - 1);
    }
  }
  return { missing, extra };
}

/** A saved rule set as its rule lines (`-A ...` and chain policies), for a delta that names rules. */
export function ruleLines(saved: string): string[] {
  return saved.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('-A ') || l.startsWith(':'));
}
