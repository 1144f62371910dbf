import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Issued {
  certFile: string;
  keyFile: string;
  /** Leaf then CA, as certbot's fullchain.pem. */
  fullchainFile: string;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

/** openssl's ca date format: YYYYMMDDHHMMSSZ. */
const asn1 = (d: Date) => d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');

/** A throwaway CA made with openssl that issues certificates with exactly chosen validity dates. */
export class TestCa {
  readonly certFile: string;
  readonly keyFile: string;

  private constructor(readonly dir: string) {
    this.certFile = join(dir, 'ca.pem');
    this.keyFile = join(dir, 'ca.key');
  }

  static create(dir: string, subject = '/CN=rtcops test CA'): TestCa {
    mkdirSync(join(dir, 'issued'), { recursive: true });
    const ca = new TestCa(dir);
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca.keyFile, '-out', ca.certFile, '-days', '30', '-subj', subject], dir);
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), '1000\n');
    writeFileSync(join(dir, 'ca.cnf'), [
      '[ca]', 'default_ca = test', '[test]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir/issued',
      'certificate = $dir/ca.pem', 'serial = $dir/serial', 'private_key = $dir/ca.key', 'default_md = sha256', 'policy = any', 'unique_subject = no', 'copy_extensions = none',
      '[any]', 'commonName = supplied', '',
    ].join('\n'));
    return ca;
  }

  /** A leaf certificate for `names` (DNS names or IPs), valid from notBefore to notAfter. */
  issue(label: string, names: string[], notBefore: Date, notAfter: Date): Issued {
    const base = join(this.dir, label);
    const keyFile = `${base}.key`;
    const certFile = `${base}.pem`;
    const fullchainFile = `${base}.fullchain.pem`;
    const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    writeFileSync(`${base}.ext`, `[leaf]\nsubjectAltName = ${san}\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', `${base}.csr`, '-subj', `/CN=${names[0] ?? label}`], this.dir);
    openssl(['ca', '-batch', '-notext', '-config', join(this.dir, 'ca.cnf'), '-in', `${base}.csr`, '-out', certFile, '-startdate', asn1(notBefore), '-enddate', asn1(notAfter), '-extfile', `${base}.ext`, '-extensions', 'leaf'], this.dir);
    writeFileSync(fullchainFile, Buffer.concat([readFileSync(certFile), readFileSync(this.certFile)]));
    return { certFile, keyFile, fullchainFile };
  }
}

export const days = (n: number, from = Date.now()) => new Date(from + n * 86_400_000);
