/** The inventory: one validated source of truth for every host rtcops touches. */
export { InventoryError, formatIssue, type InventoryIssue } from './errors.js';
export { loadHost, loadInventory, parseInventory, selectHost, type Inventory } from './load.js';
export { expandPath, type ResolvedHost } from './resolve.js';
export { isGitIgnored, resolveSecrets, Secret, type HostSecrets } from './secrets.js';
export { operatorFileIssues, resolveHostInputs } from './operator-files.js';
export { planFirewall, ufwCommands, mediaPorts, type FirewallPlan, type FirewallRule } from './firewall-plan.js';
export { hostSettingsSchema, type HostSettings } from './schema.js';
export { hasPublicDns, probeReach, readProbeCa, type ProbeReach } from './reach.js';
