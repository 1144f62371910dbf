import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect, type SecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { combine, type Check, type Finding, type Outcome } from './result.js';
import { trustContext } from './tls-context.js';

export interface TlsTarget {
  /** Address to connect to (127.0.0.1 on the host itself). */
  host: string;
  port: number;
  /** SNI name, and the name the certificate must cover. */
  servername: string;
  /** The certificate file this endpoint should be serving (certbot's live fullchain.pem). */
  certFile?: string | undefined;
}

export interface TlsExpiryOptions {
  targets: TlsTarget[];
  warnDays: number;
  criticalDays: number;
  /** PEM CA bundle to verify the chain against; default: Node's bundled Mozilla CAs. */
  caFile?: string | undefined;
  connectTimeoutMs: number;
}

const DAY_MS = 86_400_000;

interface Served {
  cert: X509Certificate;
  authorized: boolean;
  authorizationError: string | undefined;
  protocol: string | null;
}

function fetchServed(t: TlsTarget, secureContext: SecureContext, timeoutMs: number, signal: AbortSignal): Promise<Served> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: t.host, port: t.port, ...(isIP(t.servername) === 0 ? { servername: t.servername } : {}), rejectUnauthorized: false, secureContext, timeout: timeoutMs });
    const fail = (err: Error) => { socket.destroy(); reject(err); };
    signal.addEventListener('abort', () => fail(new Error('aborted')), { once: true });
    socket.once('timeout', () => fail(new Error(`no TLS handshake within ${timeoutMs} ms`)));
    socket.once('error', (err: NodeJS.ErrnoException) => fail(new Error(err.code ?? err.message)));
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      const served = { authorized: socket.authorized, authorizationError: socket.authorizationError?.toString(), protocol: socket.getProtocol() };
      socket.end();
      if (cert === undefined) return reject(new Error('the server sent no certificate'));
      resolve({ cert, ...served });
    });
  });
}

/** The first certificate of a PEM file (the leaf of a fullchain.pem). */
function readLeaf(file: string): X509Certificate {
  return new X509Certificate(readFileSync(file));
}

export function gradeCertificate(t: TlsTarget, s: Served, o: Pick<TlsExpiryOptions, 'warnDays' | 'criticalDays'>, now: Date): Finding[] {
  const daysLeft = Math.floor((Date.parse(s.cert.validTo) - now.getTime()) / DAY_MS);
  const values = { daysLeft, notAfter: new Date(s.cert.validTo).toISOString(), fingerprint: s.cert.fingerprint256, protocol: s.protocol };
  const findings: Finding[] = [];
  if (daysLeft < 0) findings.push({ status: 'critical', message: `certificate expired on ${values.notAfter}`, values });
  else if (daysLeft < o.criticalDays) findings.push({ status: 'critical', message: `certificate expires in ${daysLeft} days (critical below ${o.criticalDays})`, values });
  else if (daysLeft < o.warnDays) findings.push({ status: 'warn', message: `certificate expires in ${daysLeft} days (warning below ${o.warnDays})`, values });
  else findings.push({ status: 'ok', message: '', values });
  if (!s.authorized && s.authorizationError !== 'CERT_HAS_EXPIRED') findings.push({ status: 'critical', message: `certificate chain is not valid: ${s.authorizationError ?? 'unknown error'}`, values: { chainValid: false } });
  else findings.push({ status: 'ok', message: '', values: { chainValid: true } });
  const matched = isIP(t.servername) === 0 ? s.cert.checkHost(t.servername) : s.cert.checkIP(t.servername);
  if (matched === undefined) findings.push({ status: 'critical', message: `certificate does not cover ${t.servername} (subject ${s.cert.subject.replace(/\n/g, ', ')}; names ${s.cert.subjectAltName ?? 'none'})`, values: { hostnameMatches: false } });
  else findings.push({ status: 'ok', message: '', values: { hostnameMatches: true } });
  return findings;
}

/** "Renewed but not reloaded": the file on disk holds a newer certificate than the one being served. */
export function compareWithDisk(served: X509Certificate, certFile: string): Finding {
  let disk: X509Certificate;
  try {
    disk = readLeaf(certFile);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { status: 'warn', message: `cannot read the certificate on disk ${certFile} (${code}): give the daemon's user read access`, values: { diskCertReadable: false } };
  }
  const values = { diskNotAfter: new Date(disk.validTo).toISOString(), servedIsCurrent: disk.fingerprint256 === served.fingerprint256 };
  if (!values.servedIsCurrent && Date.parse(disk.validFrom) > Date.parse(served.validFrom)) {
    return { status: 'warn', message: `renewed but not reloaded: ${certFile} expires ${values.diskNotAfter} but the server still serves the certificate expiring ${new Date(served.validTo).toISOString()}`, values };
  }
  return { status: 'ok', message: '', values };
}

export class TlsExpiryCheck implements Check {
  readonly name = 'tls-expiry';
  readonly targets: string[];
  private context: SecureContext | undefined;

  constructor(private readonly o: TlsExpiryOptions) {
    this.targets = o.targets.map((t) => `${t.servername}:${t.port}`);
  }

  async run(signal: AbortSignal): Promise<Outcome[]> {
    this.context ??= trustContext(this.o.caFile);
    const context = this.context;
    return Promise.all(
      this.o.targets.map(async (t) => {
        const target = `${t.servername}:${t.port}`;
        let served: Served;
        try {
          served = await fetchServed(t, context, this.o.connectTimeoutMs, signal);
        } catch (error) {
          return { check: this.name, target, status: 'critical' as const, message: `no TLS on ${t.host}:${t.port} (${(error as Error).message})`, values: { reachable: false } };
        }
        const findings = gradeCertificate(t, served, this.o, new Date());
        if (t.certFile !== undefined) findings.push(compareWithDisk(served.cert, t.certFile));
        const daysLeft = findings[0]?.values['daysLeft'];
        return { check: this.name, target, ...combine(findings, `certificate valid for ${String(daysLeft)} more days, chain and name OK`) };
      }),
    );
  }
}

