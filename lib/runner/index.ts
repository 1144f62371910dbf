/** The one runner for remote commands: SSH with a pinned host key, argv quoted once, sudo when asked. */
export { SshTarget, type SshConnection, type ExecOptions, type ExecResult } from './ssh-target.js';
export { RemoteError, HostKeyMismatchError, UnreachableError, AuthError, CommandFailedError } from './errors.js';
export { shQuote, shJoin } from './quote.js';
export { fingerprintOf, knownHostsBlobs, pinnedFingerprints, type HostKeyPin } from './host-key.js';
