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
