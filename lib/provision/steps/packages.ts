import { shQuote } from '../../runner/quote.js';
import type { ResolvedHost } from '../../inventory/index.js';
import type { Action } from '../actions.js';
import { UNCHANGED } from '../actions.js';
import type { Step } from '../step.js';

const LISTS_MAX_AGE_SEC = 24 * 3600;

/** Everything the stack needs from the distribution (the init.sh package list). */
export const PACKAGES = [
  'ca-certificates', 'curl', 'git', 'jq', 'htop', 'logrotate',
  'nginx', 'certbot', 'python3-certbot-nginx', 'coturn', 'ufw', 'fail2ban',
  // fail2ban's systemd backend (Debian 12 has no auth.log) needs it; it is only a Recommends.
  'python3-systemd',
  'prometheus-node-exporter', 'unattended-upgrades', 'apt-listchanges',
  // mediasoup worker's runtime libraries (a worker built on Debian 12 also links its abseil)
  'libuv1', 'libssl3', 'libsrtp2-1',
];

export function packagesFor(host: ResolvedHost): string[] {
  return host.os === 'debian-12' ? [...PACKAGES, 'libabsl20220623'] : PACKAGES;
}
const APT = 'DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

export const packagesStep: Step = {
  name: 'packages',
  title: 'packages and security upgrades',
  refreshesFacts: true,
  facts: ({ host }) => ({
    packages: packagesFor(host),
    probes: {
      // Age of the apt lists in seconds (a fresh VM has none).
      'apt.listsAge': 'find /var/lib/apt/lists -maxdepth 1 -name "*_Packages*" -printf "%T@\\n" | sort -n | tail -1 | awk -v now="$(date +%s)" \'{ printf "%d", now - $1 }\'',
      'apt.upgradable': `apt-get -s -o Debug::NoLocking=1 upgrade 2>/dev/null | grep -c '^Inst '`,
    },
  }),
  plan: ({ host }, facts) => {
    const missing = packagesFor(host).filter((p) => !facts.installed.has(p));
    const age = Number(facts.probes.get('apt.listsAge') || 'NaN');
    const stale = !(age < LISTS_MAX_AGE_SEC);
    const upgradable = Number(facts.probes.get('apt.upgradable') || '0');
    const actions: Action[] = [];
    if (missing.length > 0) {
      actions.push({ kind: 'run', summary: `install ${missing.join(' ')}`, script: `${APT} update\n${APT} install --no-install-recommends ${missing.map(shQuote).join(' ')}` });
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
