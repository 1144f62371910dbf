import type { ExecOptions, ExecResult } from './ssh-target.js';

/**
 * What an engine may do on a host: run an argv or a bash script (as the login user, or root), upload bytes, close.
 * SshTarget does it over SSH; RecordingRunner answers from a table and keeps the calls, for tests and plans.
 */
export interface Runner {
  readonly name: string;
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  script(body: string, opts?: Omit<ExecOptions, 'stdin'>): Promise<ExecResult>;
  upload(content: string | Buffer, path: string, mode?: number): Promise<void>;
  close(): void;
}

/** Opens a new Runner to one host: engines get this instead of opening connections (a deploy's lock holder, the lockout guard's proof). */
export type Connect = () => Promise<Runner>;
