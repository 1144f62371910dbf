// Per-host checks: secrets, the SSH key, the host-key pin, TCP, an SSH login and sudo. Only tcp and login
// touch the network; every message names paths, variables and fingerprints, never a secret value.
import { readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { connectionOf } from '../host/index.js';
import { InventoryError, resolveSecrets, type InventoryIssue, type ResolvedHost } from '../inventory/index.js';
import { pinnedFingerprints, RemoteError, SshTarget } from '../runner/index.js';
import { blockedBy, fail, ok, skipped, warn, type DoctorResult } from './result.js';

type Env = Record<string, string | undefined>;

const SANDBOX_UP = 'npx zx scripts/sandbox.mjs up';

/** The local test host: named "sandbox" or in the inventory's "sandbox" group; `sandbox.mjs up` creates it. */
export function isSandboxHost(host: ResolvedHost): boolean {
  return host.name === 'sandbox' || host.groups.includes('sandbox');
}

const where = (host: ResolvedHost) => `${host.ssh.address}:${host.ssh.port}`;

// ---- 4. secrets ------------------------------------------------------------------------------------------

/** The secret named by an issue path like hosts.prod.secrets.turnSecret ("file" for secrets.file). */
const secretOf = (issue: InventoryIssue): string => issue.path.split('.').at(-1) ?? '';

/** What to do about resolveSecrets' problems: variable names and files, never values. */
export function secretsFix(host: ResolvedHost, issues: readonly InventoryIssue[]): string {
  const fixes: string[] = [];
  const refs = host.secrets as unknown as Record<string, { env?: string; key?: string } | undefined>;
  const missingEnv = issues.filter((i) => / is not set$/.test(i.message)).map((i) => refs[secretOf(i)]?.env).filter((e): e is string => e !== undefined);
  const missingKeys = issues.filter((i) => / is not set$/.test(i.message)).map((i) => refs[secretOf(i)]?.key).filter((k): k is string => k !== undefined);
  if (missingEnv.length > 0) {
    fixes.push(`${missingEnv.map((name) => `export ${name}=...`).join(' ')} (the value the host was provisioned with; a new host: openssl rand -hex 32)`
      + `, or move them to a secrets file (mode 0600, git-ignored) as secrets.file + { key: ... }`);
  }
  const fileIssue = issues.find((i) => secretOf(i) === 'file');
  const file = host.secrets.file ?? 'secrets.file';
  if (fileIssue !== undefined) {
    if (/does not exist$/.test(fileIssue.message)) {
      fixes.push(isSandboxHost(host) ? `${SANDBOX_UP} (it creates ${file})` : `create ${file} (mode 0600, git-ignored) with the keys ${Object.values(refs).map((r) => r?.key).filter((k) => k !== undefined).join(', ')}`);
    } else fixes.push(fileIssue.message.includes(': ') ? fileIssue.message.slice(fileIssue.message.lastIndexOf(': ') + 2) : `fix ${file}`);
  }
  if (missingKeys.length > 0) fixes.push(`add ${missingKeys.map((k) => `${k}: ...`).join(', ')} to ${file} (keep it mode 0600)`);
  const other = issues.filter((i) => !/ is not set$/.test(i.message) && secretOf(i) !== 'file');
  if (other.length > 0) fixes.push(`replace ${other.map((i) => `secrets.${secretOf(i)}`).join(', ')} as the message says`);
  return fixes.join('; ');
}

/** 4. Every secret the host needs resolves (from the environment or the secrets file). */
export function checkSecrets(host: ResolvedHost, inventoryFile: string, env: Env = process.env): DoctorResult {
  try {
    const s = resolveSecrets(host, inventoryFile, env);
    const names = Object.entries(s).filter(([, v]) => v !== undefined).map(([k]) => k);
    return ok(host.name, 'secrets', `${names.join(', ')} set`);
  } catch (error) {
    if (!(error instanceof InventoryError)) throw error;
    // resolveSecrets' messages name the variable or key and never the value.
    const message = error.issues.map((i) => `${i.path.replace(`hosts.${host.name}.`, '')}: ${i.message}`).join('; ');
    return fail(host.name, 'secrets', message, secretsFix(host, error.issues));
  }
}

// ---- 5. the SSH key --------------------------------------------------------------------------------------

const PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp\d+|sk-\S+@openssh\.com) [A-Za-z0-9+/=]+/;
const PRIVATE_PEM = /-----BEGIN (OPENSSH |RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY-----/;

/** True when an OpenSSH or PEM private key needs a passphrase. */
export function isEncryptedKey(text: string): boolean {
  if (/Proc-Type: 4,ENCRYPTED|BEGIN ENCRYPTED PRIVATE KEY/.test(text)) return true;
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (m === null) return false;
  // openssh-key-v1\0, then the cipher name as a uint32-length string: "none" when unencrypted.
  const blob = Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64');
  const magic = 'openssh-key-v1\0';
  if (blob.subarray(0, magic.length).toString('latin1') !== magic || blob.length < magic.length + 4) return false;
  const len = blob.readUInt32BE(magic.length);
  return blob.subarray(magic.length + 4, magic.length + 4 + len).toString('latin1') !== 'none';
}

/** 5. ssh.keyPath is a readable, unencrypted private key that only its owner can read. */
export function checkSshKey(host: ResolvedHost): DoctorResult {
  const path = host.ssh.keyPath;
  const r = (message: string, fix: string) => fail(host.name, 'ssh-key', message, fix);
  // rtcops's SSH runner reads this file itself (connectionOf gives it only keyPath): no ssh-agent, no passphrase.
  const noAgent = 'rtcops reads the key file itself (no ssh-agent, no passphrase)';
  let mode: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return r(`ssh.keyPath ${path} is not a file`, 'point ssh.keyPath at your private key file');
    mode = st.mode & 0o777;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return r(`ssh.keyPath ${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}; ${noAgent}`,
      isSandboxHost(host) ? `${SANDBOX_UP} (it creates the key)` : `point ssh.keyPath at your private key, or create one: ssh-keygen -t ed25519 -N '' -f ${path} and add ${path}.pub to ~${host.ssh.user}/.ssh/authorized_keys on the host`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return r(`ssh.keyPath ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, `make it yours and readable: chown "$(id -un)" ${path} && chmod 600 ${path}`);
  }
  if (PUBLIC_KEY.test(text.trim())) {
    return r(`ssh.keyPath ${path} is a public key`, `point ssh.keyPath at the private half${path.endsWith('.pub') ? ` (${path.slice(0, -4)})` : ''}`);
  }
  if (text.startsWith('PuTTY-User-Key-File')) return r(`ssh.keyPath ${path} is a PuTTY key`, `convert it: puttygen ${path} -O private-openssh -o ${path}.openssh, and point ssh.keyPath there`);
  if (!PRIVATE_PEM.test(text)) return r(`ssh.keyPath ${path} is not a private key (no "-----BEGIN ... PRIVATE KEY-----")`, 'point ssh.keyPath at your private key file');
  if (isEncryptedKey(text)) {
    return r(`ssh.keyPath ${path} is passphrase-protected; ${noAgent}`,
      `use a dedicated deploy key without a passphrase (ssh-keygen -t ed25519 -N '' -f ~/.ssh/rtcops_deploy, mode 0600), or remove this one's passphrase: ssh-keygen -p -N '' -f ${path}`);
  }
  if ((mode & 0o077) !== 0) {
    return r(`ssh.keyPath ${path} is mode 0${mode.toString(8)}: group or others can ${mode & 0o044 ? 'read' : 'access'} it (ssh refuses such a key too)`, `chmod 600 ${path}`);
  }
  return ok(host.name, 'ssh-key', `${path}: private key, mode 0${mode.toString(8)}`);
}

// ---- 6. the host-key pin ---------------------------------------------------------------------------------

/** known_hosts names for an address: `address` on port 22, `[address]:port` otherwise (as ssh-keyscan -p writes them). */
const knownHostsName = (address: string, port: number) => (port === 22 ? address : `[${address}]:${port}`);

/** 6. The host key is pinned (ssh.hostKey, ssh.fingerprint, or an entry in ssh.knownHostsFile) for address:port. */
export function checkHostKey(host: ResolvedHost): DoctorResult {
  const { address, port, knownHostsFile, hostKey, fingerprint } = host.ssh;
  const scan = (file: string) => `ssh-keyscan -p ${port} ${address} >> ${file}, then compare ssh-keygen -lf ${file} with the fingerprint your provider's console shows`;
  if (knownHostsFile !== undefined) {
    let text: string | undefined;
    try {
      text = readFileSync(knownHostsFile, 'utf8');
    } catch (error) {
      if (hostKey === undefined && fingerprint === undefined) {
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        return fail(host.name, 'host-key', `ssh.knownHostsFile ${knownHostsFile} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}: no host key is pinned`,
          isSandboxHost(host) ? `${SANDBOX_UP} (it writes ${knownHostsFile})` : scan(knownHostsFile));
      }
    }
    const pinned = pinnedFingerprints({ knownHostsFile }, address, port);
    if (pinned.length === 0 && hostKey === undefined && fingerprint === undefined) {
      const hashed = (text ?? '').split('\n').some((l) => l.startsWith('|1|'));
      return fail(host.name, 'host-key', `ssh.knownHostsFile ${knownHostsFile} has no entry for ${knownHostsName(address, port)}${hashed ? ' (it has hashed |1| entries, which rtcops does not read)' : ''}`,
        isSandboxHost(host) ? `${SANDBOX_UP} (it rewrites ${knownHostsFile})` : `${scan(knownHostsFile)}${hashed ? ' (without -H: an unhashed line)' : ''}`);
    }
  }
  const pinned = pinnedFingerprints(host.ssh, address, port);
  if (pinned.length === 0) return fail(host.name, 'host-key', `no host key pinned for ${where(host)}`, 'set ssh.hostKey, ssh.fingerprint or ssh.knownHostsFile in the inventory');
  const from = [hostKey !== undefined ? 'ssh.hostKey' : '', fingerprint !== undefined ? 'ssh.fingerprint' : '', knownHostsFile !== undefined ? `ssh.knownHostsFile ${knownHostsFile}` : ''].filter((s) => s !== '');
  return ok(host.name, 'host-key', `pinned ${[...new Set(pinned)].join(', ')} (${from.join(', ')})`);
}

// ---- 7. TCP ----------------------------------------------------------------------------------------------

export type TcpResult =
  | { open: true; ms: number; banner: string | undefined }
  | { open: false; code: string; ms: number };

/**
 * Opens a TCP connection and waits (within the same timeout) for the server's first line, the SSH banner
 * ("SSH-2.0-OpenSSH_9.2p1 ..."); then closes it without a word. Never throws.
 */
export function tcpProbe(address: string, port: number, timeoutMs: number): Promise<TcpResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    let connected = false;
    let data = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const line = data.split(/\r?\n/)[0]?.trim() ?? '';
      resolve(connected ? { open: true, ms: Date.now() - t0, banner: line === '' ? undefined : line.slice(0, 100) } : { open: false, code: 'ETIMEDOUT', ms: Date.now() - t0 });
    };
    const timer = setTimeout(done, timeoutMs);
    socket.once('connect', () => { connected = true; });
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      if (data.includes('\n') || data.length > 255) done();
    });
    socket.once('close', done);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(connected ? { open: true, ms: Date.now() - t0, banner: undefined } : { open: false, code: err.code ?? 'error', ms: Date.now() - t0 });
    });
  });
}

/** What an unreachable address:port most likely means, and what to do. */
export function tcpHint(host: ResolvedHost, code: string, timeoutMs: number): { message: string; fix: string } {
  const at = where(host);
  const sandbox = isSandboxHost(host) ? `is the sandbox up? ${SANDBOX_UP}; otherwise ` : '';
  switch (code) {
    case 'ECONNREFUSED':
      return { message: `${at} unreachable: connection refused (nothing listens there)`,
        fix: `${sandbox}check ssh.address and ssh.port, and that sshd runs on the host; if it answered a moment ago, ufw "limit" refuses a 7th connection within 30 s: wait 30 s` };
    case 'ETIMEDOUT':
      return { message: `${at} unreachable: no answer within ${(timeoutMs / 1000).toFixed(0)} s`,
        fix: `${sandbox}check ssh.address, the provider firewall / security group and ufw on the host (SSH is let in only from adminCidrs ${host.adminCidrs.join(', ')}: is this machine's address in it?)` };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { message: `${at} unreachable: no route to ${host.ssh.address} (${code})`, fix: `${sandbox}check ssh.address and the network path (VPN, routes)` };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { message: `${at} unreachable: ${host.ssh.address} does not resolve (${code})`, fix: `${sandbox}check ssh.address (an IP address avoids DNS) and this machine's DNS` };
    default:
      return { message: `${at} unreachable (${code})`, fix: `${sandbox}check ssh.address, ssh.port and the firewall` };
  }
}

/** 7. ssh.address:ssh.port accepts a TCP connection and answers with an SSH banner. */
export async function checkTcp(host: ResolvedHost, timeoutMs = 5000): Promise<DoctorResult> {
  const r = await tcpProbe(host.ssh.address, host.ssh.port, timeoutMs);
  if (!r.open) {
    const { message, fix } = tcpHint(host, r.code, timeoutMs);
    return fail(host.name, 'tcp', message, fix);
  }
  if (r.banner?.startsWith('SSH-') === true) return ok(host.name, 'tcp', `${where(host)} answers ${r.banner} (${r.ms} ms)`);
  // Not a failure yet: the login below says whether SSH works; this says where to look when it does not.
  return warn(host.name, 'tcp', `${where(host)} accepts TCP but ${r.banner === undefined ? `sent no SSH banner within ${(timeoutMs / 1000).toFixed(0)} s` : `answers "${r.banner}", not SSH`}`,
    `${isSandboxHost(host) ? `is the sandbox up? npx zx scripts/sandbox.mjs status (start it: ${SANDBOX_UP}); otherwise ` : ''}check that ssh.port is sshd's port and that sshd is not overloaded (MaxStartups) or still starting`);
}

// ---- 8. login and sudo -----------------------------------------------------------------------------------

/** 8a. An SSH login the way every rtcops command makes it: SshTarget.connect with the pinned host key. */
export async function checkLogin(host: ResolvedHost): Promise<{ result: DoctorResult; target: SshTarget | undefined }> {
  const conn = connectionOf(host);
  try {
    const target = await SshTarget.connect(conn);
    return { result: ok(host.name, 'login', `logged in as ${conn.user}@${where(host)} with ${conn.keyPath}; host key matches the pin`), target };
  } catch (error) {
    if (error instanceof RemoteError) {
      // A host-key mismatch names what the host presented and what the inventory pins.
      const fallback = `${isSandboxHost(host) ? `is the sandbox up? npx zx scripts/sandbox.mjs status (start it: ${SANDBOX_UP}); otherwise ` : ''}check ssh.address, ssh.port (sshd's port?), ssh.user and ssh.keyPath`;
      return { result: fail(host.name, 'login', error.message, error.hint ?? fallback), target: undefined };
    }
    return { result: fail(host.name, 'login', `SSH to ${conn.user}@${where(host)} failed: ${(error as Error).message}`, 'check ssh.user and ssh.keyPath'), target: undefined };
  }
}

/** The sudoers drop-in that gives `user` passwordless sudo, as commands for root on the host. */
export function sudoersFix(user: string): string {
  const file = `/etc/sudoers.d/rtcops-${user}`;
  return `on the host as root: echo '${user} ALL=(ALL) NOPASSWD:ALL' > ${file} && chmod 440 ${file} && visudo -cf ${file}`;
}

/** 8b. The login user has passwordless sudo (provisioning runs privileged commands with `sudo -n`). */
export async function checkSudo(host: ResolvedHost, target: SshTarget): Promise<DoctorResult> {
  if (host.ssh.user === 'root') return ok(host.name, 'sudo', 'ssh.user is root: no sudo needed');
  return probeSudo(host.name, host.ssh.user, target);
}

/** Runs `sudo -n true` over the connection and says what its exit status means for `user`. */
export async function probeSudo(hostName: string, user: string, target: SshTarget): Promise<DoctorResult> {
  let r;
  try {
    r = await target.exec(['sudo', '-n', 'true'], { allowFailure: true, summary: 'sudo -n true' });
  } catch (error) {
    return fail(hostName, 'sudo', (error as Error).message, 'run doctor again; if it repeats, check the host\'s sshd and load');
  }
  if (r.code === 0) return ok(hostName, 'sudo', `passwordless sudo works for ${user}`);
  if (r.code === 127) return fail(hostName, 'sudo', `sudo is not installed on ${hostName}`, `on the host as root: apt-get install sudo; then ${sudoersFix(user)}`);
  const said = r.stderr.trim().split('\n').at(-1) ?? '';
  return fail(hostName, 'sudo', `passwordless sudo missing for ${user}: sudo -n true exited ${r.code ?? 'by a signal'}${said === '' ? '' : ` (${said})`}`, sudoersFix(user));
}

// ---- one host --------------------------------------------------------------------------------------------

export interface HostCheckOptions {
  env?: Env;
  tcpTimeoutMs?: number;
}

/** Every per-host check in order; later ones that depend on a failed earlier one are listed as skipped. */
export async function checkHost(host: ResolvedHost, inventoryFile: string, opts: HostCheckOptions = {}): Promise<DoctorResult[]> {
  const out: DoctorResult[] = [
    checkSecrets(host, inventoryFile, opts.env ?? process.env),
    checkSshKey(host),
    checkHostKey(host),
    await checkTcp(host, opts.tcpTimeoutMs ?? 5000),
  ];
  const blocked = blockedBy(out, ['tcp', 'ssh-key', 'host-key']);
  if (blocked !== undefined) {
    out.push(skipped(host.name, 'login', blocked));
    out.push(skipped(host.name, 'sudo', 'not attempted: login was skipped'));
    return out;
  }
  const { result, target } = await checkLogin(host);
  out.push(result);
  if (target === undefined) {
    out.push(skipped(host.name, 'sudo', 'not attempted: login failed'));
    return out;
  }
  try {
    out.push(await checkSudo(host, target));
  } finally {
    target.close();
  }
  return out;
}
