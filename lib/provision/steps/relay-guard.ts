import { layoutOf } from '../../host/index.js';
import { shQuote } from '../../runner/quote.js';
import type { Action } from '../actions.js';
import type { Step } from '../step.js';

/**
 * The TURN relay guard (lib/render/files.ts: its rule set and unit, installed by the config step) enabled at boot and
 * loaded now, as its file says: a table missing or changed since the unit loaded it (a hand edit, `nft flush ruleset`; counters aside: `nft -s`)
 * is loaded again.
 */
export const relayGuardStep: Step = {
  name: 'relay-guard',
  title: 'TURN relays to this host reach only its media ports (nftables)',
  facts: (ctx) => {
    const { relayGuardUnit, relayGuardTable, relayGuardLoaded } = layoutOf(ctx.host);
    return {
      services: [relayGuardUnit],
      probes: {
        'relayGuard.table': `nft -s list table inet ${relayGuardTable} 2>/dev/null | sha256sum | cut -c1-64; nft list table inet ${relayGuardTable} >/dev/null 2>&1 || echo absent`,
        'relayGuard.loaded': `cat ${relayGuardLoaded}`,
      },
    };
  },
  plan: (ctx, facts) => {
    const { relayGuardUnit } = layoutOf(ctx.host);
    const unit = shQuote(relayGuardUnit);
    const st = facts.services.get(relayGuardUnit);
    const actions: Action[] = [];
    if (st?.enabled !== 'enabled') actions.push({ kind: 'run', summary: `enable ${relayGuardUnit} (loads the guard at boot, before coturn)`, script: `systemctl enable ${unit}` });
    const table = (facts.probes.get('relayGuard.table') ?? '').trim();
    if (st?.active !== 'active') actions.push({ kind: 'run', summary: `start ${relayGuardUnit} (load the guard)`, script: `systemctl start ${unit}` });
    else if (table.endsWith('absent')) actions.push({ kind: 'run', summary: 'load the TURN relay guard again (its table was removed)', script: `systemctl reload ${unit}` });
    else if (table !== (facts.probes.get('relayGuard.loaded') ?? '').trim()) actions.push({ kind: 'run', summary: 'load the TURN relay guard again (its table was changed by hand)', script: `systemctl reload ${unit}` });
    return actions;
  },
};
