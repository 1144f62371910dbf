import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { NodeSSH } from 'node-ssh';
import { AuthError, CommandFailedError, HostKeyMismatchError, RemoteError, UnreachableError } from './errors.js';
import { fingerprintOf, pinnedFingerprints, type HostKeyPin } from './host-key.js';
import { shJoin } from './quote.js';
import type { Runner } from './runner.js';

export interface SshConnection extends HostKeyPin {
  /** Name used in messages (the inventory's host name). */
  name: string;
  address: string;
  port: number;
  user: string;
  keyPath: string;
  /** Prefix privileged commands with `sudo -n` (false when connecting as root). */
  sudo: boolean;
  connectTimeoutMs: number;
}

export interface ExecOptions {
  /** Run as root (through sudo unless connected as root). */
  root?: boolean;
  /** A stream stays open as long as the command runs: a byte pipe to a process on the host (lib/deploy/slot-call.ts). */
  stdin?: string | Buffer | Readable;
  /** Resolve with the result instead of throwing when the command exits non-zero. */
  allowFailure?: boolean;
  /** What the command is for, in error messages. */
  summary?: string;
  /** Raw stdout as it arrives (binary-safe: a tar stream); the result's stdout is then not meant to be read. */
  onStdout?: (chunk: Buffer) => void;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** One SSH connection to one host, with its host key pinned. Every remote command in rtcops goes through here. */
export class SshTarget implements Runner {
  private constructor(readonly conn: SshConnection, private readonly ssh: NodeSSH) {}

  get name(): string {
    return this.conn.name;
  }

  static async connect(conn: SshConnection): Promise<SshTarget> {
    const pinned = pinnedFingerprints(conn, conn.address, conn.port);
    if (pinned.length === 0) {
      throw new HostKeyMismatchError(conn.name, `no host key pinned for ${conn.address}:${conn.port}`,
        conn.knownHostsFile !== undefined ? `add its key to ${conn.knownHostsFile} (ssh-keyscan, verified out of band)` : 'set ssh.hostKey, ssh.fingerprint or ssh.knownHostsFile in the inventory');
    }
    let privateKey: string;
    try {
      privateKey = readFileSync(conn.keyPath, 'utf8');
    } catch (err) {
      throw new AuthError(conn.name, `cannot read the SSH key ${conn.keyPath} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 'set ssh.keyPath in the inventory to your private key file');
    }
    let presented: string | undefined;
    const ssh = new NodeSSH();
    try {
      await ssh.connect({
        host: conn.address,
        port: conn.port,
        username: conn.user,
        privateKey,
        readyTimeout: conn.connectTimeoutMs,
        hostVerifier: (key: Buffer) => {
          presented = fingerprintOf(key);
          return pinned.includes(presented);
        },
      });
    } catch (err) {
      ssh.dispose();
      throw connectError(conn, err as Error & { code?: string; level?: string }, presented, pinned);
    }
    // Commands are many small request/answer exchanges: without TCP_NODELAY, Nagle's algorithm holds each
    // small packet until the previous one is acknowledged, and the peer's delayed ACK makes that ~40 ms
    // per exchange (a trivial command took 88-132 ms on loopback instead of a few).
    ssh.connection?.setNoDelay(true);
    return new SshTarget(conn, ssh);
  }

  /** Runs argv (quoted here, once) and returns its output; throws CommandFailedError on a non-zero exit unless allowFailure. */
  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.run(shJoin(argv), opts, opts.summary ?? argv.slice(0, 3).join(' '));
  }

  /** Runs a bash script (sent on stdin, so nothing in it is quoted twice) with `set -euo pipefail`. */
  async script(body: string, opts: Omit<ExecOptions, 'stdin'> = {}): Promise<ExecResult> {
    return this.run('bash -s', { ...opts, stdin: `set -euo pipefail\n${body}\n` }, opts.summary ?? 'script');
  }

  /** Writes bytes to a path the login user can write (e.g. a temp file) over SFTP. */
  async upload(content: string | Buffer, path: string, mode = 0o600): Promise<void> {
    const sftp = await this.ssh.requestSFTP();
    try {
      await new Promise<void>((resolve, reject) => sftp.writeFile(path, content, { mode }, (err: Error | null | undefined) => (err ? reject(err) : resolve())));
    } catch (err) {
      throw new RemoteError(this.name, `upload to ${path} failed: ${(err as Error).message}`);
    } finally {
      sftp.end();
    }
  }

  close(): void {
    this.ssh.dispose();
  }

  private async run(command: string, opts: ExecOptions, summary: string): Promise<ExecResult> {
    const full = opts.root === true && this.conn.sudo && this.conn.user !== 'root' ? `sudo -n -- ${command}` : command;
    const t0 = Date.now();
    const stdin = opts.stdin === undefined ? undefined : typeof opts.stdin === 'string' || opts.stdin instanceof Readable ? opts.stdin : Readable.from(opts.stdin);
    let r;
    try {
      r = await this.ssh.execCommand(full, { ...(stdin === undefined ? {} : { stdin }), ...(opts.onStdout !== undefined ? { onStdout: opts.onStdout } : {}) });
    } catch (err) {
      throw new UnreachableError(this.name, `lost the SSH connection while running ${summary}: ${(err as Error).message}`);
    }
    const result = { code: r.code, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
    // RTCOPS_TRACE=1: one line per remote command (host, what, exit code, time) on stderr; never the command's text.
    if (process.env['RTCOPS_TRACE'] === '1') process.stderr.write(`trace ${this.name}: ${summary} → exit ${r.code} in ${result.ms} ms\n`);
    if (opts.root === true && r.code === 1 && /sudo: a (terminal|password) is required/.test(r.stderr)) {
      throw new AuthError(this.name, `sudo needs a password for ${this.conn.user}`, `give ${this.conn.user} passwordless sudo (NOPASSWD), or connect as root with ssh.sudo: false`);
    }
    if (r.code !== 0 && opts.allowFailure !== true) throw new CommandFailedError(this.name, summary, r.code, `${r.stderr}\n${r.stdout}`);
    return result;
  }
}

function connectError(conn: SshConnection, err: Error & { code?: string; level?: string }, presented: string | undefined, pinned: string[]): RemoteError {
  const where = `${conn.user}@${conn.address}:${conn.port}`;
  if (presented !== undefined && !pinned.includes(presented)) {
    return new HostKeyMismatchError(conn.name, `host key mismatch for ${conn.address}: it presented ${presented}, the inventory pins ${pinned.join(', ')}`,
      'if the host was rebuilt, verify its new key out of band and update the pin; otherwise someone may be intercepting the connection');
  }
  if (err.level === 'client-authentication') {
    return new AuthError(conn.name, `SSH key ${conn.keyPath} was refused for ${where}`, `check ssh.user and that the key's public half is in ~${conn.user}/.ssh/authorized_keys on the host`);
  }
  if (err.code === 'ECONNREFUSED') return new UnreachableError(conn.name, `connection refused by ${conn.address}:${conn.port}`, 'check that sshd runs and ssh.port is right; if it answered a moment ago, ufw "limit" (firewall.sshRateLimit) refuses a 7th connection within 30 s from one address: wait 30 s');
  if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') {
    return new UnreachableError(conn.name, `cannot reach ${conn.address} (${err.code})`, 'check ssh.address and the network path (VPN, security group)');
  }
  if (/Timed out/i.test(err.message)) return new UnreachableError(conn.name, `no SSH answer from ${conn.address}:${conn.port} within ${conn.connectTimeoutMs} ms`, 'check the address, the port and the provider firewall');
  return new UnreachableError(conn.name, `SSH to ${where} failed: ${err.message}`);
}
