import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { EXIT, parseCli, UsageError, type Io } from '../cli.js';
import { loadInventory, type ResolvedHost } from '../inventory/index.js';
import { renderTemplate } from './engine.js';
import { NODE_EXPORTER_USER } from './node-exporter.js';

/**
 * For teams that already run Prometheus: a scrape config for every host's server /metrics and node_exporter, and
 * alert rules equivalent to the health daemon's, so Prometheus + Alertmanager can alert for many hosts. The rules'
 * thresholds are the first host's daemon settings (one rule file for the fleet).
 */
export interface PrometheusFile {
  name: 'rtcops-scrape.yml' | 'rtcops-rules.yml';
  content: string;
}

/** Where the scrape config reads a host's admin token from, relative to the config file (as Prometheus resolves it). */
export function adminTokenFile(hostName: string): string {
  return `rtcops-tokens/${hostName}.admin-token`;
}

/** Where the scrape config reads a host's node_exporter password from (secrets.nodeExporterPassword, else the admin token). */
export function nodeExporterPasswordFile(hostName: string): string {
  return `rtcops-tokens/${hostName}.node-exporter-password`;
}

export function prometheusFiles(hosts: ResolvedHost[], inventoryName = 'inventory.yaml'): PrometheusFile[] {
  const first = hosts[0];
  if (first === undefined) throw new Error('the inventory has no hosts');
  const d = first.daemon;
  const banner = `Rendered by rtcops from ${basename(inventoryName)} for hosts ${hosts.map((h) => h.name).join(', ')}. Regenerate it rather than edit it.`;
  const scrape = renderTemplate('prometheus/scrape.yml.njk', {
    banner, scrapeIntervalSec: Math.min(60, d.intervalSec),
    hosts: hosts.map((h) => ({ name: h.name, domain: h.app.domains[0] ?? h.ssh.address, tokenFile: adminTokenFile(h.name) })),
    nodeUser: NODE_EXPORTER_USER,
    nodeHosts: hosts.filter((h) => h.nodeExporter.enabled).map((h) => ({ name: h.name, address: h.ssh.address, port: h.nodeExporter.port, passwordFile: nodeExporterPasswordFile(h.name) })),
  });
  const failFor = `${Math.max(1, Math.round((d.failureThreshold * d.intervalSec) / 60))}m`;
  const rules = renderTemplate('prometheus/rules.yml.njk', {
    banner, runbook: first.alerts.runbookUrl ?? 'RUNBOOK.md', failFor, silentFor: `${Math.max(1, Math.round((2 * d.intervalSec) / 60))}m`,
    crashLoopRestarts: 2, crashLoopWindowMin: 10, diskPercent: d.diskPercent, memoryPercent: d.memoryPercent, cpuPercent: d.cpuPercent,
  });
  return [{ name: 'rtcops-scrape.yml', content: scrape }, { name: 'rtcops-rules.yml', content: rules }];
}

const spec = {
  usage: 'prometheus.mjs [--out DIR]',
  description: 'Render a Prometheus scrape config for every host in the inventory (the server\'s /metrics through nginx with the host\'s admin token, node_exporter) and '
    + 'alert rules equivalent to the health daemon\'s (rtcops-scrape.yml, rtcops-rules.yml), for Prometheus + Alertmanager over many hosts. '
    + 'Check them with promtool check config / check rules. Without --out they are printed.',
  options: { out: { type: 'string', short: 'o' } },
  help: { out: 'Write the two files into this directory' },
} as const;

export async function prometheusMain(argv: string[], io: Io): Promise<number> {
  const args = parseCli(spec, argv, io);
  if (args === undefined) return EXIT.ok;
  if (args.positionals.length > 0) throw new UsageError(`prometheus: unexpected arguments: ${args.positionals.join(' ')} (it renders every host)`);
  const inventory = loadInventory(args.inventory);
  const files = prometheusFiles(Object.values(inventory.hosts), inventory.file);
  const out = typeof args.values.out === 'string' ? resolve(args.values.out) : undefined;
  if (out !== undefined) {
    mkdirSync(out, { recursive: true });
    for (const f of files) writeFileSync(join(out, f.name), f.content);
  }
  const tokenFiles = Object.fromEntries(Object.keys(inventory.hosts).map((name) => [name, adminTokenFile(name)]));
  const passwordFiles = Object.fromEntries(Object.values(inventory.hosts).filter((h) => h.nodeExporter.enabled).map((h) => [h.name, nodeExporterPasswordFile(h.name)]));
  if (args.json) io.out(JSON.stringify({ ok: true, out: out ?? null, files: files.map((f) => f.name), adminTokenFiles: tokenFiles, nodeExporterPasswordFiles: passwordFiles }));
  else if (out === undefined) io.out(files.map((f) => `--- ${f.name}\n${f.content}`).join('\n'));
  else {
    const where = (m: Record<string, string>) => Object.entries(m).map(([name, file]) => `  ${name}: ${join(out, file)}`).join('\n');
    const passwords = Object.keys(passwordFiles).length === 0 ? '' : `\nand its node_exporter password (secrets.nodeExporterPassword, else the same ADMIN_TOKEN) the same way:\n${where(passwordFiles)}`;
    io.out(`wrote ${files.map((f) => join(out, f.name)).join(', ')}\nput each host's ADMIN_TOKEN in its file, readable by the prometheus user only (chmod 0600):\n${where(tokenFiles)}${passwords}`);
  }
  return EXIT.ok;
}
