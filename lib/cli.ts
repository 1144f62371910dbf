import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InventoryError } from './inventory/index.js';

/**
 * What every scripts/*.mjs shares: -i/--inventory, --help, --json, and exit codes
 * 0 success, 1 something failed on a host, 2 usage or inventory/configuration error, 3 `--check` found changes pending.
 */
/** pending: `provision.mjs --check` found changes to make (as `terraform plan -detailed-exitcode`), so cron and CI see drift. */
export const EXIT = { ok: 0, failed: 1, usage: 2, pending: 3 } as const;

/** Bad arguments: printed with a pointer to --help, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandSpec<O extends Options> {
  /** e.g. "render <host> [--out DIR]" */
  usage: string;
  /** One paragraph: what the command does. */
  description: string;
  /** Extra options, besides the common ones; `help` text per option shows in --help. */
  options?: O;
  help?: Partial<Record<keyof O & string, string>>;
}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

const COMMON = {
  inventory: { type: 'string', short: 'i', default: './inventory.yaml' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

export interface CliArgs {
  /** Absolute path of the inventory file. */
  inventory: string;
  json: boolean;
  positionals: string[];
  /** Every option by its long name, as node:util parseArgs returns them. */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
}

export function helpText<O extends Options>(spec: CommandSpec<O>): string {
  const lines = [`Usage: npx zx scripts/${spec.usage}`, '', spec.description, '', 'Options:'];
  for (const [name, option] of Object.entries(spec.options ?? {})) {
    const flag = `${option.short === undefined ? '    ' : `-${option.short}, `}--${name}${option.type === 'string' ? ' <value>' : ''}`;
    lines.push(`  ${flag.padEnd(28)}${spec.help?.[name] ?? ''}`);
  }
  lines.push(`  ${'-i, --inventory <file>'.padEnd(28)}Inventory file (default ./inventory.yaml)`);
  lines.push(`  ${'    --json'.padEnd(28)}Print the result as JSON on stdout`);
  lines.push(`  ${'-h, --help'.padEnd(28)}Show this help`);
  lines.push('', 'Exit status: 0 success, 1 something failed on a host, 2 usage or inventory error.');
  return lines.join('\n');
}

/** The one host a command takes: `<command>: <missing>` without it, and no other positional argument. */
export function oneHost(args: CliArgs, command: string, missing: string): string {
  const [hostName, ...extra] = args.positionals;
  if (hostName === undefined) throw new UsageError(`${command}: ${missing}`);
  if (extra.length > 0) throw new UsageError(`${command}: unexpected arguments: ${extra.join(' ')}`);
  return hostName;
}

/** Parse argv; undefined means --help was printed. Throws UsageError for unknown or malformed options. */
export function parseCli<O extends Options>(spec: CommandSpec<O>, argv: string[], io: Io = processIo): CliArgs | undefined {
  let parsed: { values: CliArgs['values']; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...spec.options, ...COMMON }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.values.help === true) {
    io.out(helpText(spec));
    return undefined;
  }
  return {
    inventory: resolve(String(parsed.values.inventory)),
    json: parsed.values.json === true,
    positionals: parsed.positionals,
    values: parsed.values,
  };
}

/** The arguments after the script's own path, whether it runs as `npx zx scripts/x.mjs` or `node scripts/x.mjs`. */
export function scriptArgs(scriptUrl: string, argv: string[] = process.argv): string[] {
  const script = fileURLToPath(scriptUrl);
  const index = argv.findIndex((arg) => resolve(arg) === script);
  return index === -1 ? argv.slice(2) : argv.slice(index + 1);
}

/** Print an error the way every script does, and return its exit status. */
export function reportError(error: unknown, json: boolean, io: Io = processIo): number {
  if (error instanceof InventoryError) {
    io.err(error.message);
    if (json) io.out(JSON.stringify({ ok: false, error: 'inventory', file: error.file, issues: error.issues }));
    return EXIT.usage;
  }
  if (error instanceof UsageError) {
    io.err(`${error.message}\nRun with --help for usage.`);
    if (json) io.out(JSON.stringify({ ok: false, error: 'usage', message: error.message }));
    return EXIT.usage;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.err(`error: ${message}`);
  if (json) io.out(JSON.stringify({ ok: false, error: 'failed', message }));
  return EXIT.failed;
}

/** Run a command's main function and set process.exitCode from its result or its error. */
export async function runScript(main: (argv: string[], io: Io) => Promise<number>, argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv, processIo);
  } catch (error) {
    process.exitCode = reportError(error, argv.includes('--json'));
  }
}
