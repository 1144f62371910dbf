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
    super(host, `${summary} failed (exit ${code ?? 'signal'})${output.trim() === '' ? '' : `: ${tail(output)}`}`);
    this.name = 'CommandFailedError';
  }
}

export function tail(text: string, lines = 6): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}
