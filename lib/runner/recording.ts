import { Readable } from 'node:stream';
import { CommandFailedError } from './errors.js';
import { shJoin } from './quote.js';
import type { Connect, Runner } from './runner.js';
import type { ExecOptions, ExecResult } from './ssh-target.js';

/** One call an engine made: the command line (an argv quoted as SshTarget sends it) or the script's body. */
export interface RecordedCall {
  kind: 'exec' | 'script' | 'upload';
  text: string;
  root: boolean;
  summary: string;
  stdin?: string;
}

export type Answer = Partial<Pick<ExecResult, 'code' | 'stdout' | 'stderr'>>;
/** [what the call's text contains (or matches), its answer]: the first row that matches answers; none: exit 0, no output. */
export type AnswerTable = [match: string | RegExp, answer: Answer | ((call: RecordedCall) => Answer)][];

/**
 * A Runner that runs nothing: it answers each call from a table of facts and records it, so an engine's sequence of
 * remote calls is a plain value a test reads. Failures behave as SshTarget's (CommandFailedError unless allowFailure).
 */
export class RecordingRunner implements Runner {
  constructor(readonly name: string, readonly answers: AnswerTable = [], readonly calls: RecordedCall[] = []) {}

  /** Further connections to the same host: the same table, one log. */
  readonly connect: Connect = () => Promise.resolve(new RecordingRunner(this.name, this.answers, this.calls));

  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const stdin = opts.stdin === undefined ? undefined : opts.stdin instanceof Readable ? '(a stream)' : opts.stdin.toString();
    return this.answer({ kind: 'exec', text: shJoin(argv), root: opts.root === true, summary: opts.summary ?? argv.slice(0, 3).join(' '), ...(stdin !== undefined ? { stdin } : {}) }, opts);
  }

  script(body: string, opts: Omit<ExecOptions, 'stdin'> = {}): Promise<ExecResult> {
    return this.answer({ kind: 'script', text: body, root: opts.root === true, summary: opts.summary ?? 'script' }, opts);
  }

  upload(content: string | Buffer, path: string): Promise<void> {
    this.calls.push({ kind: 'upload', text: path, root: false, summary: `upload ${content.length} bytes` });
    return Promise.resolve();
  }

  close(): void {}

  private answer(call: RecordedCall, opts: ExecOptions): Promise<ExecResult> {
    this.calls.push(call);
    const row = this.answers.find(([m]) => (typeof m === 'string' ? call.text.includes(m) : m.test(call.text)));
    const a = row === undefined ? {} : typeof row[1] === 'function' ? row[1](call) : row[1];
    const r: ExecResult = { code: a.code ?? 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '', ms: 0 };
    if (r.stdout !== '') opts.onStdout?.(Buffer.from(r.stdout));
    if (r.code !== 0 && opts.allowFailure !== true) return Promise.reject(new CommandFailedError(this.name, call.summary, r.code, `${r.stderr}\n${r.stdout}`));
    return Promise.resolve(r);
  }
}
