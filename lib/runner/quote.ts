const SAFE = /^[A-Za-z0-9_/.:=@%+,-]+$/;

/** One argument for a POSIX shell, single-quoted unless it is plainly safe. */
export function shQuote(arg: string): string {
  if (arg !== '' && SAFE.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** An argv as one shell command line: the only place rtcops quotes for a remote shell. */
export function shJoin(argv: readonly string[]): string {
  return argv.map(shQuote).join(' ');
}

/** Shell text that goes into `sh` as it is: a fragment another `sh` (or a table of fixed commands) built. */
export class Raw {
  constructor(readonly text: string) {}
}

export const raw = (text: string): Raw => new Raw(text);

export type ShValue = string | number | readonly string[] | Raw;

/**
 * A command line or script with every interpolation quoted once: a string or number is one word, an array is one
 * word each, and only a Raw (an already built fragment) goes in as it is. sh`systemctl restart ${unit}`.
 */
export function sh(strings: TemplateStringsArray, ...values: ShValue[]): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += v instanceof Raw ? v.text : typeof v === 'number' ? String(v) : typeof v === 'string' ? shQuote(v) : shJoin(v);
    out += strings[i + 1] ?? '';
  });
  return out;
}
