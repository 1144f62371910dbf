import { UsageError } from '../cli.js';
import type { Inventory, ResolvedHost } from '../inventory/index.js';

/** Hosts named directly, or every host in a named group: what every command's positional arguments select. */
export function selectTargets(inventory: Inventory, names: string[]): ResolvedHost[] {
  const out = new Map<string, ResolvedHost>();
  for (const name of names) {
    const host = inventory.hosts[name];
    const members = Object.values(inventory.hosts).filter((h) => h.groups.includes(name));
    if (host !== undefined) out.set(name, host);
    else if (members.length > 0) for (const m of members) out.set(m.name, m);
    else {
      const groups = [...new Set(Object.values(inventory.hosts).flatMap((h) => h.groups))];
      throw new UsageError(`no host or group "${name}" in ${inventory.file}; hosts: ${Object.keys(inventory.hosts).join(', ') || '(none)'}; groups: ${groups.join(', ') || '(none)'}`);
    }
  }
  return [...out.values()];
}
