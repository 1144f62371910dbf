/** A remote operation failed in a way the operator can act on; `hint` says how. Never carries secrets. */
export class RemoteError extends Error {
  constructor(readonly host: string, message: string, readonly hint?: string) {
    super(message);
    this.name = 'RemoteError';
  }
}

export class HostKeyMismatchError extends RemoteError {}
export class UnreachableError extends RemoteError {}
export class AuthError extends RemoteError {}

/** A command exited non-zero: its exit code and the tail of what it printed. */
export class CommandFailedError extends RemoteError {
  constructor(host: string, readonly summary: string, readonly code: number | null, readonly output: string) {
    super(host, `${summary} failed (exit ${code ?? 'signal'})${output.trim() === '' ? '' : `: ${tail(output)}`}`, knownFailureHint(output));
    this.name = 'CommandFailedError';
  }
}

export function tail(text: string, lines = 6): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/** Failures operators meet on real hosts, recognised in a command's output, with what to do about them. */
const KNOWN_FAILURES: [RegExp, (m: RegExpMatchArray) => string][] = [
  [/Could not get lock (\/\S+?)\.?(?: It is held by process (\d+) \(([^)]+)\))?(?:\s|$)/, (m) =>
    `another package manager holds ${m[1]}${m[2] !== undefined ? ` (process ${m[2]}, ${m[3]})` : ''} — often unattended-upgrades on a fresh VM: wait for it to finish (systemctl status unattended-upgrades), then run again`],
  [/Unable to locate package (\S+)|Package '?(\S+?)'? has no installation candidate/, (m) =>
    `the host's apt sources have no package ${m[1] ?? m[2]}: check the inventory's os for this host and the host's sources (apt-cache policy ${m[1] ?? m[2]})`],
  [/dpkg was interrupted/, () => 'an earlier package run was interrupted: run `sudo dpkg --configure -a` on the host, then run again'],
  [/No space left on device/, () => 'the host\'s disk is full: free space (old releases, logs, apt caches: apt-get clean) and run again'],
  [/Temporary failure resolving|Could not resolve/, () => 'the host cannot resolve its package mirrors: check its DNS and outbound network'],
];

export function knownFailureHint(output: string): string | undefined {
  for (const [re, hint] of KNOWN_FAILURES) {
    const m = re.exec(output);
    if (m !== null) return hint(m);
  }
  return undefined;
}
