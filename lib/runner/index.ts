/** The one runner for remote commands: SSH with a pinned host key, argv quoted once, sudo when asked; the Runner seam engines take, and its recording double. */
export { SshTarget, type SshConnection, type ExecOptions, type ExecResult } from './ssh-target.js';
export type { Connect, Runner } from './runner.js';
export { RecordingRunner, type AnswerTable, type RecordedCall } from './recording.js';
export { RemoteError, HostKeyMismatchError, UnreachableError, AuthError, CommandFailedError } from './errors.js';
export { raw, sh, shQuote, shJoin } from './quote.js';
export { fingerprintOf, knownHostsBlobs, pinnedFingerprints, type HostKeyPin } from './host-key.js';
