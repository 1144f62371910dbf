import { EXIT, UsageError, parseCli, type Io } from '../cli.js';
import { selectTargets } from '../host/index.js';
import { checkHost } from './host.js';
import { checkInventory, checkNode, checkSshClient } from './local.js';
import { formatTable, summaryLine, toJson } from './report.js';
import { hasFailure, skipped, type DoctorResult } from './result.js';

const spec = {
  usage: 'doctor.mjs [host|group]...',
  description: 'Preflight of the operator\'s side, one line per check with the fix: Node.js against engines.node, the ssh client, the inventory; '
    + 'then per host (default: every host in the inventory): its secrets, the SSH key file, the pinned host key, TCP to ssh.address:ssh.port, '
    + 'an SSH login with the pinned key, and passwordless sudo. Checks that depend on a failed one are listed as skipped. Changes nothing. '
    + 'Exit status: 0 everything ok or warn, 1 a check failed, 2 usage or inventory error (bad flag, unknown host or group, an inventory that does not load).',
  options: {
    'tcp-timeout': { type: 'string', default: '5' },
  },
  help: {
    'tcp-timeout': 'Seconds to wait for a TCP answer from each host (default 5)',
  },
} as const;

export async function doctorMain(argv: string[], io: Io): Promise<number> {
  const args = parseCli(spec, argv, io);
  if (args === undefined) return EXIT.ok;
  const tcpTimeout = Number(args.values['tcp-timeout']);
  if (!Number.isFinite(tcpTimeout) || tcpTimeout <= 0) throw new UsageError('--tcp-timeout takes a number of seconds > 0');

  const results: DoctorResult[] = [checkNode(), checkSshClient()];
  const { result, inventory } = checkInventory(args.inventory);
  results.push(result);
  if (inventory === undefined) {
    const which = args.positionals.length > 0 ? args.positionals.join(', ') : 'every host';
    results.push(skipped(null, 'hosts', `not attempted for ${which}: the inventory did not load`));
  } else {
    // An unknown host or group is a usage error (exit 2), as in every other script.
    const hosts = args.positionals.length > 0 ? selectTargets(inventory, args.positionals) : Object.values(inventory.hosts);
    if (!args.json) io.err(`doctor: checking ${hosts.map((h) => h.name).join(', ')} from ${inventory.file}`);
    const perHost = await Promise.all(hosts.map((h) => checkHost(h, inventory.file, { tcpTimeoutMs: tcpTimeout * 1000 })));
    results.push(...perHost.flat());
  }
  io.out(args.json ? JSON.stringify(toJson(results), null, 2) : `${formatTable(results)}\n\n${summaryLine(results)}`);
  // An inventory that does not load is exit 2, as in every other script (the table still says what is wrong).
  if (inventory === undefined) return EXIT.usage;
  return hasFailure(results) ? EXIT.failed : EXIT.ok;
}
