import { sh, shJoin } from '../../runner/quote.js';
import {
  FIREWALL_DIR, FIREWALL_STATE, INSTALLED_FILES, LOADED_V4, LOADED_V6, NORMALIZE, UFW_FILES,
  describeTuples, describeUfwCommand, lineDelta, parseState, ruleLines, type FirewallState,
} from '../firewall-state.js';
import { sha256 } from '../managed-files.js';
import type { Facts } from '../facts.js';
import type { Step } from '../step.js';

const PREV = `${FIREWALL_DIR}/prev`;
const V6_MARK = '@@v6';
/** An empty filter table that lets everything in: what "no firewall" restores as (iptables-restore replaces the table). */
const OPEN_TABLE = String.raw`*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n`;
const HAS_V6 = 'ip6tables -S >/dev/null 2>&1';

/** Each of UFW_FILES with its sha256 ("path hash" lines; an absent file has none). */
const FILES_PROBE = `for f in ${UFW_FILES.join(' ')}; do [ -f "$f" ] && echo "$f $(sha256sum < "$f" | cut -d' ' -f1)"; done`;

/**
 * UFW with exactly the planned rules, applied atomically behind the lockout guard: ufw computes the new rule set in
 * a throw-away network and mount namespace (its files copied, the host's untouched), then one iptables-restore per
 * address family swaps the loaded rule set in a single transaction, so the old rules filter until the new ones do
 * (`ufw reset`/`enable` on the host flushed everything and let all traffic in for about 2 s). fail2ban bans live in
 * their own nftables table, which the swap does not touch.
 */
export const firewallStep: Step = {
  name: 'firewall',
  title: 'firewall (ufw)',
  facts: () => ({
    probes: {
      'firewall.state': `cat ${FIREWALL_STATE}`,
      'firewall.files': FILES_PROBE,
      'firewall.installed': `cat ${INSTALLED_FILES}`,
      'firewall.tuples': `grep -h '^### tuple' /etc/ufw/user.rules /etc/ufw/user6.rules`,
      'firewall.loaded': `iptables-save -t filter | ${NORMALIZE}; echo ${V6_MARK}; if ${HAS_V6}; then ip6tables-save -t filter | ${NORMALIZE}; fi`,
      'firewall.recorded': `cat ${LOADED_V4}; echo ${V6_MARK}; cat ${LOADED_V6}`,
    },
  }),
  plan: ({ rendered }, facts) => {
    const planned = rendered.ufw.map(describeUfwCommand);
    const planHash = sha256(JSON.stringify(rendered.ufw));
    const drift = firewallDrift(facts, planned, planHash);
    if (drift.length === 0) return [];
    const state: FirewallState = { plan: planHash, rules: planned };
    return [{
      kind: 'run',
      summary: `firewall: ${drift.map((d) => d.summary).join('; ')}`,
      diff: drift.flatMap((d) => d.lines).join('\n'),
      guard: 'ssh-access',
      revertUnit: 'firewall',
      prepare: prepareScript(),
      revert: revertScript(),
      script: applyScript(rendered.ufw, state),
    }];
  },
};

interface Drift {
  summary: string;
  /** One line per rule, `+` to add, `-` to remove (for --diff). */
  lines: string[];
}

/** Why the firewall is not what the plan says, each reason with the rules it concerns; none when it is. */
export function firewallDrift(facts: Facts, planned: string[], planHash: string): Drift[] {
  const state = parseState(facts.probes.get('firewall.state'));
  if (state === undefined) return [{ summary: `apply the plan (${planned.length} rules)`, lines: planned.map((r) => `+ ${r}`) }];
  const out: Drift[] = [];
  const rulesOnly = (xs: string[]) => xs.filter((r) => !r.startsWith('default '));
  if (state.plan !== planHash) {
    const { missing, extra } = lineDelta(state.rules, planned);
    out.push(delta('the plan changed', missing, extra));
  }
  const hashes = (probe: string) => new Map((facts.probes.get(probe) ?? '').split('\n').filter((l) => l !== '').map((l) => l.split(' ') as [string, string]));
  const [now, installed] = [hashes('firewall.files'), hashes('firewall.installed')];
  const edited = UFW_FILES.filter((f) => now.get(f) !== installed.get(f));
  if (edited.length > 0) {
    const { missing, extra } = lineDelta(describeTuples(facts.probes.get('firewall.tuples') ?? ''), rulesOnly(state.rules));
    const ruleDrift = missing.length + extra.length > 0 ? delta('ufw rules edited by hand', missing, extra) : undefined;
    out.push(ruleDrift ?? { summary: `ufw files edited by hand (${edited.join(', ')})`, lines: edited.map((f) => `~ ${f}`) });
  }
  const [loaded4 = '', loaded6 = ''] = (facts.probes.get('firewall.loaded') ?? '').split(V6_MARK);
  const [recorded4 = '', recorded6 = ''] = (facts.probes.get('firewall.recorded') ?? '').split(V6_MARK);
  const d4 = lineDelta(ruleLines(loaded4), ruleLines(recorded4));
  const d6 = lineDelta(ruleLines(loaded6), ruleLines(recorded6));
  const missing = [...d4.missing, ...d6.missing.map((l) => `(v6) ${l}`)];
  const extra = [...d4.extra, ...d6.extra.map((l) => `(v6) ${l}`)];
  if (missing.length + extra.length > 0) out.push(delta('the loaded rules differ from the plan', missing, extra));
  return out;
}

function delta(what: string, missing: string[], extra: string[]): Drift {
  const parts = [...(missing.length > 0 ? [`missing ${missing.join(', ')}`] : []), ...(extra.length > 0 ? [`extra ${extra.join(', ')}`] : [])];
  return { summary: `${what}: ${parts.join('; ') || 'order'}`, lines: [...missing.map((l) => `+ ${l}`), ...extra.map((l) => `- ${l}`)] };
}

/** Saves the loaded rule sets and ufw's files, so the guard's revert puts back exactly what filtered before. */
function prepareScript(): string {
  return [
    `rm -rf ${PREV} && mkdir -p ${PREV}/files`,
    `iptables-save -t filter > ${PREV}/v4; [ -s ${PREV}/v4 ] || printf '${OPEN_TABLE}' > ${PREV}/v4`,
    `if ${HAS_V6}; then ip6tables-save -t filter > ${PREV}/v6; [ -s ${PREV}/v6 ] || printf '${OPEN_TABLE}' > ${PREV}/v6; fi`,
    ...UFW_FILES.map((f, i) => `[ -e ${f} ] && cp -a ${f} ${PREV}/files/${i} || true`),
  ].join('\n');
}

function revertScript(): string {
  return [
    ...UFW_FILES.map((f, i) => `[ -e ${PREV}/files/${i} ] && cp -a ${PREV}/files/${i} ${f} || true`),
    `iptables-restore < ${PREV}/v4`,
    `if [ -f ${PREV}/v6 ]; then ip6tables-restore < ${PREV}/v6; fi`,
    `rm -f ${FIREWALL_STATE}`,
  ].join('\n');
}

/**
 * ufw builds the planned rule set from a fresh copy of its files inside `unshare --net --mount` (the host's files and
 * firewall untouched, no `*.rules.<timestamp>` backups left behind), then the host loads it in one iptables-restore
 * per family and installs the files ufw will load at boot.
 */
function applyScript(ufw: readonly string[][], state: FirewallState): string {
  const inside = [
    'mount --bind "$1/ufw" /etc/ufw; mount --bind "$1/default" /etc/default',
    'ufw --force reset >/dev/null',
    ...ufw.map((argv) => `${shJoin(argv)} >/dev/null`),
    'ufw --force enable >/dev/null',
    'iptables-save -t filter > "$1/v4"',
    `if ${HAS_V6}; then ip6tables-save -t filter > "$1/v6"; fi`,
  ].join('\n');
  const install = UFW_FILES.map((f) => `install -m 0644 "$work/${f.startsWith('/etc/ufw/') ? 'ufw' : 'default'}/${f.split('/').pop()}" ${f}`);
  return [
    `mkdir -p ${FIREWALL_DIR}`,
    'work=$(mktemp -d /run/rtcops-firewall.XXXXXX); trap \'rm -rf "$work"\' EXIT',
    'cp -a /etc/ufw "$work/ufw"; mkdir "$work/default"; cp -a /etc/default/. "$work/default/"',
    sh`unshare --net --mount sh -euc ${inside} sh "$work"`,
    'iptables-restore < "$work/v4"',
    'if [ -f "$work/v6" ]; then ip6tables-restore < "$work/v6"; fi',
    ...install,
    `${NORMALIZE} < "$work/v4" > ${LOADED_V4}`,
    `if [ -f "$work/v6" ]; then ${NORMALIZE} < "$work/v6" > ${LOADED_V6}; else : > ${LOADED_V6}; fi`,
    `{ ${FILES_PROBE}; } > ${INSTALLED_FILES}`,
    sh`printf '%s\n' ${JSON.stringify(state)} > ${FIREWALL_STATE}`,
  ].join('\n');
}
