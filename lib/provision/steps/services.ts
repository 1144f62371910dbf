import { shQuote } from '../../runner/quote.js';
import type { Facts } from '../facts.js';
import type { Step } from '../step.js';

const NODE_EXPORTER = 'prometheus-node-exporter';
const SERVICES = ['nginx', 'coturn', 'fail2ban', NODE_EXPORTER, 'unattended-upgrades', 'ssh'];

/** Time-sync daemons as package → unit; the packages step installs the first one apt has when none is there. */
const TIME_SYNC: [string, string][] = [['systemd-timesyncd', 'systemd-timesyncd'], ['chrony', 'chrony'], ['ntpsec', 'ntpsec'], ['ntp', 'ntp'], ['openntpd', 'openntpd']];

/** In a container the clock is the machine's: no daemon there may set it (systemd-timesyncd refuses to start). */
const CONTAINERS = new Set(['systemd-nspawn', 'lxc', 'lxc-libvirt', 'docker', 'podman', 'openvz', 'rkt', 'wsl', 'proot', 'pouch']);

/** The units this host must run: the stack's (node_exporter unless nodeExporter.enabled is false), and its time-sync daemon unless it is a container. */
export function wantedServices(facts: Facts, nodeExporter = true): string[] {
  const timeSync = CONTAINERS.has(facts.os.virt) ? undefined : TIME_SYNC.find(([pkg]) => facts.installed.has(pkg))?.[1];
  return [...SERVICES.filter((s) => nodeExporter || s !== NODE_EXPORTER), ...(timeSync === undefined ? [] : [timeSync])];
}

/** The stack's services enabled at boot and running; node_exporter stopped and disabled when the inventory turns it off. */
export const servicesStep: Step = {
  name: 'services',
  title: 'services enabled and running',
  facts: () => ({ services: [...SERVICES, ...TIME_SYNC.map(([, unit]) => unit)], packages: TIME_SYNC.map(([pkg]) => pkg) }),
  plan: (ctx, facts) => {
    const nodeExporter = ctx.host.nodeExporter.enabled;
    const down = wantedServices(facts, nodeExporter).filter((s) => {
      const st = facts.services.get(s);
      return st?.active !== 'active' || st.enabled !== 'enabled';
    });
    const exporter = facts.services.get(NODE_EXPORTER);
    const stop = !nodeExporter && (exporter?.active === 'active' || exporter?.enabled === 'enabled');
    return [
      ...(down.length === 0 ? [] : [{ kind: 'run' as const, summary: `enable and start ${down.join(' ')}`, script: `systemctl enable --now ${down.map(shQuote).join(' ')}` }]),
      ...(stop ? [{ kind: 'run' as const, summary: `stop and disable ${NODE_EXPORTER} (nodeExporter.enabled is false)`, script: `systemctl disable --now ${NODE_EXPORTER}` }] : []),
    ];
  },
};
