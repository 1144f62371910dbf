// The sandbox's public API: a disposable Debian 12 or 13 target host for rehearsals and end-to-end tests.
export {
  sandboxUp,
  sandboxDown,
  sandboxStatus,
  sandboxTarget,
  sandboxProbe,
  type SandboxOptions,
  type SandboxInfo,
  type SandboxUpResult,
  type SandboxDownResult,
  type SandboxStatus,
} from './instance.js';
export { runInGuest, connectGuest, sshArgv, type SshTarget, type CommandResult } from './ssh.js';
export type { Probe } from './network.js';
export { trustCaInGuest } from './guest-setup.js';
export { SandboxConfigError, SandboxFailure, SandboxAborted } from './errors.js';
export { DEFAULT_NAME, defaultStateDir } from './layout.js';
export { streamProgress, silentProgress, type Progress } from './progress.js';
export { DEFAULT_OS, RELEASES, SANDBOX_OSES, isSandboxOs, type SandboxOs } from './releases.js';
