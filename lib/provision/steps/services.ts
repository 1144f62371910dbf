import { shQuote } from '../../runner/quote.js';
import type { Facts } from '../facts.js';
import type { Step } from '../step.js';

const SERVICES = ['nginx', 'coturn', 'fail2ban', 'prometheus-node-exporter', 'unattended-upgrades', 'ssh'];

/** Time-sync daemons as package → unit; the packages step installs the first one apt has when none is there. */
const TIME_SYNC: [string, string][] = [['systemd-timesyncd', 'systemd-timesyncd'], ['chrony', 'chrony'], ['ntpsec', 'ntpsec'], ['ntp', 'ntp'], ['openntpd', 'openntpd']];

/** In a container the clock is the machine's: no daemon there may set it (systemd-timesyncd refuses to start). */
const CONTAINERS = new Set(['systemd-nspawn', 'lxc', 'lxc-libvirt', 'docker', 'podman', 'openvz', 'rkt', 'wsl', 'proot', 'pouch']);

/** The units this host must run: the stack's, and its time-sync daemon unless it is a container. */
export function wantedServices(facts: Facts): string[] {
  const timeSync = CONTAINERS.has(facts.os.virt) ? undefined : TIME_SYNC.find(([pkg]) => facts.installed.has(pkg))?.[1];
  return [...SERVICES, ...(timeSync === undefined ? [] : [timeSync])];
}

/** The stack's services enabled at boot and running. */
export const servicesStep: Step = {
  name: 'services',
  title: 'services enabled and running',
  facts: () => ({ services: [...SERVICES, ...TIME_SYNC.map(([, unit]) => unit)], packages: TIME_SYNC.map(([pkg]) => pkg) }),
  plan: (_ctx, facts) => {
    const down = wantedServices(facts).filter((s) => {
      const st = facts.services.get(s);
      return st?.active !== 'active' || st.enabled !== 'enabled';
    });
    return down.length === 0 ? [] : [{ kind: 'run', summary: `enable and start ${down.join(' ')}`, script: `systemctl enable --now ${down.map(shQuote).join(' ')}` }];
  },
};
