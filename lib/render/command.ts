import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { EXIT, oneHost, parseCli, UsageError, type Io } from '../cli.js';
import { isGitIgnored, loadHost } from '../inventory/index.js';
import { renderHost, type RenderResult } from './files.js';

const spec = {
  usage: 'render.mjs <host> [--out DIR]',
  description:
    'Render every file rtcops puts on <host> from the inventory, for review. Secret values come from the environment ' +
    '(or the secrets file) the inventory names. With --out, files are written under DIR at their host paths, ' +
    'secret-bearing ones with mode 0600, plus rtcops-render.json (the manifest, firewall plan and commands).',
  options: { out: { type: 'string', short: 'o' } },
  help: { out: 'Write the files under this directory' },
} as const;

export const MANIFEST = 'rtcops-render.json';

/** Everything about a render except file contents: safe to print and to keep. */
export function manifest(result: RenderResult) {
  return {
    host: result.host,
    files: result.files.map(({ content: _content, ...meta }) => meta),
    firewall: result.firewall,
    ufw: result.ufw,
    pm2Logrotate: result.pm2Logrotate,
  };
}

/** Files land at DIR/<host path>; secret-bearing files are readable by the operator only. */
export function writeRender(result: RenderResult, outDir: string): void {
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  for (const file of result.files) {
    const target = join(outDir, file.path);
    mkdirSync(dirname(target), { recursive: true });
    const mode = file.secret ? 0o600 : parseInt(file.mode, 8);
    writeFileSync(target, file.content, { mode });
    chmodSync(target, mode);
  }
  writeFileSync(join(outDir, MANIFEST), `${JSON.stringify(manifest(result), null, 2)}\n`);
}

export function summary(result: RenderResult, outDir: string | undefined): string {
  const rows = result.files.map((f) => [f.path, f.mode, `${f.owner}:${f.group}`, f.validator, f.secret ? 'SECRET' : '']);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length), ['PATH ON HOST', 'MODE', 'OWNER', 'VALIDATOR'][i]?.length ?? 0));
  const line = (cells: string[]) => cells.map((c, i) => (i < 4 ? c.padEnd(widths[i] ?? 0) : c)).join('  ').trimEnd();
  const secretCount = result.files.filter((f) => f.secret).length;
  return [
    `Rendered ${result.files.length} files for ${result.host}${outDir === undefined ? ' (not written: pass --out DIR)' : ` into ${outDir}`}`,
    '',
    line(['PATH ON HOST', 'MODE', 'OWNER', 'VALIDATOR', '']),
    ...rows.map(line),
    '',
    `${secretCount} secret-bearing files: their contents are never printed${outDir === undefined ? '' : '; written with mode 0600'}.`,
    `Firewall plan: ${result.firewall.rules.length} ufw rules; pm2-logrotate: ${result.pm2Logrotate.length} settings${outDir === undefined ? '' : ` (see ${MANIFEST})`}.`,
  ].join('\n');
}

export async function renderMain(argv: string[], io: Io): Promise<number> {
  const args = parseCli(spec, argv, io);
  if (args === undefined) return EXIT.ok;
  const hostName = oneHost(args, 'render', 'name the host to render (e.g. sandbox)');
  const outDir = typeof args.values.out === 'string' ? resolve(args.values.out) : undefined;
  if (outDir !== undefined && !isGitIgnored(outDir)) {
    throw new UsageError(`--out ${outDir} is inside a git work tree and not ignored: secret-bearing files could be committed`);
  }

  const { inventory, host, secrets } = loadHost(args.inventory, hostName);
  const result = renderHost(host, secrets, { inventoryName: inventory.file });
  if (outDir !== undefined) writeRender(result, outDir);
  io.out(args.json ? JSON.stringify({ ok: true, out: outDir ?? null, ...manifest(result) }, null, 2) : summary(result, outDir));
  return EXIT.ok;
}
