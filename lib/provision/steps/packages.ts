import { shQuote } from '../../runner/quote.js';
import type { Action } from '../actions.js';
import { UNCHANGED } from '../actions.js';
import type { Step } from '../step.js';

const LISTS_MAX_AGE_SEC = 24 * 3600;

/**
 * Everything the stack needs from the distribution (the init.sh package list). A list holds alternatives, preferred
 * first: the host installs the first one its apt sources have, and any one installed satisfies it. That is how one
 * list serves releases that renamed a library (Debian 13's 64-bit time_t transition: libssl3 became libssl3t64).
 */
export const PACKAGES: readonly (string | readonly string[])[] = [
  'ca-certificates', 'curl', 'git', 'jq', 'htop', 'logrotate',
  'nginx', 'certbot', 'python3-certbot-nginx', 'coturn', 'ufw', 'fail2ban',
  // nginx's stream module: the 443 router (turn.tls443) that shares 443 between the site and TURN over TLS.
  'libnginx-mod-stream',
  // fail2ban's ban action (its own nftables table, apart from ufw's rules).
  'nftables',
  // fail2ban's systemd backend (Debian has no auth.log) needs it; it is only a Recommends.
  'python3-systemd',
  'prometheus-node-exporter', 'unattended-upgrades', 'apt-listchanges',
  // Time sync (JWT exp, TURN REST credentials and TLS all read the clock): a host keeps the daemon it has.
  ['systemd-timesyncd', 'chrony', 'ntpsec', 'ntp', 'openntpd'],
  // The mediasoup worker's runtime libraries; a worker built on the host's release links that release's abseil.
  ['libuv1t64', 'libuv1'], ['libssl3t64', 'libssl3'], 'libsrtp2-1', ['libabsl20240722', 'libabsl20220623'],
];

/** Each requirement as its list of alternatives. */
export function requirements(): string[][] {
  return PACKAGES.map((p) => (typeof p === 'string' ? [p] : [...p]));
}

/** The requirements none of whose alternatives the host has installed. */
export function missingRequirements(installed: Set<string>): string[][] {
  return requirements().filter((alternatives) => !alternatives.some((p) => installed.has(p)));
}

// Prints the first of its arguments that the apt sources have (a real package, not a purely virtual name). grep reads
// all of apt-cache's output: with -q it would quit early and pipefail would see apt-cache's SIGPIPE.
const PICK = `pick() { for p in "$@"; do if apt-cache show --no-all-versions "$p" 2>/dev/null | grep '^Package:' >/dev/null; then echo "$p"; return 0; fi; done; echo "none of $* is in this host's apt sources" >&2; return 1; }`;

const APT = 'DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

export const packagesStep: Step = {
  name: 'packages',
  title: 'packages and security upgrades',
  refreshesFacts: true,
  facts: () => ({
    packages: requirements().flat(),
    probes: {
      // Age of the apt lists in seconds (a fresh VM has none).
      'apt.listsAge': 'find /var/lib/apt/lists -maxdepth 1 -name "*_Packages*" -printf "%T@\\n" | sort -n | tail -1 | awk -v now="$(date +%s)" \'{ printf "%d", now - $1 }\'',
      'apt.upgradable': `apt-get -s -o Debug::NoLocking=1 upgrade 2>/dev/null | grep -c '^Inst '`,
    },
  }),
  plan: (_ctx, facts) => {
    const missing = missingRequirements(facts.installed);
    const age = Number(facts.probes.get('apt.listsAge') || 'NaN');
    const stale = !(age < LISTS_MAX_AGE_SEC);
    const upgradable = Number(facts.probes.get('apt.upgradable') || '0');
    const actions: Action[] = [];
    if (missing.length > 0) {
      // An assignment, so that set -e stops the script when pick finds none of a requirement's alternatives.
      const picks = missing.flatMap((alternatives, i) => (alternatives.length === 1 ? [] : [`p${i}=$(pick ${alternatives.map(shQuote).join(' ')})`]));
      const names = missing.map((alternatives, i) => (alternatives.length === 1 ? shQuote(alternatives[0]!) : `"$p${i}"`));
      actions.push({
        kind: 'run',
        summary: `install ${missing.map((alternatives) => alternatives.join('|')).join(' ')}`,
        script: [`${APT} update`, ...(picks.length > 0 ? [PICK, ...picks] : []), `${APT} install --no-install-recommends ${names.join(' ')}`].join('\n'),
      });
    }
    if (stale || upgradable > 0) {
      // Decided on fresh lists; "upgrade" never installs or removes packages and leaves held ones alone.
      actions.push({
        kind: 'run',
        summary: 'security and point-release upgrades',
        script: [
          missing.length > 0 ? '' : `${APT} update`,
          `n=$(apt-get -s -o Debug::NoLocking=1 upgrade | grep -c '^Inst ' || true)`,
          `if [ "$n" -gt 0 ]; then ${APT} upgrade; echo "upgraded $n package(s)"; else echo ${UNCHANGED}; fi`,
        ].join('\n'),
      });
    }
    return actions;
  },
};
