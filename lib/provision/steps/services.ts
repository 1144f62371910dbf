import { shQuote } from '../../runner/quote.js';
import type { Step } from '../step.js';

const SERVICES = ['nginx', 'coturn', 'fail2ban', 'prometheus-node-exporter', 'unattended-upgrades', 'ssh'];

/** The stack's services enabled at boot and running. */
export const servicesStep: Step = {
  name: 'services',
  title: 'services enabled and running',
  facts: () => ({ services: SERVICES }),
  plan: (_ctx, facts) => {
    const down = SERVICES.filter((s) => {
      const st = facts.services.get(s);
      return st?.active !== 'active' || st.enabled !== 'enabled';
    });
    return down.length === 0 ? [] : [{ kind: 'run', summary: `enable and start ${down.join(' ')}`, script: `systemctl enable --now ${down.map(shQuote).join(' ')}` }];
  },
};
