// Errors a sandbox command reports to the operator, with the exit code the CLI maps them to.

// Exit 2: the command cannot run here as asked (usage, not root, missing package, address taken).
export class SandboxConfigError extends Error {
  readonly exitCode = 2;
  override readonly name = 'SandboxConfigError';
}

// Exit 1: the command ran and something on the way failed (build, boot, SSH).
export class SandboxFailure extends Error {
  readonly exitCode = 1;
  override readonly name = 'SandboxFailure';
}

// Exit 130: interrupted (Ctrl-C, SIGTERM); whatever the command had started is removed again.
export class SandboxAborted extends Error {
  readonly exitCode = 130;
  override readonly name = 'SandboxAborted';
}
