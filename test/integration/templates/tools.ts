// Running the real programs that read rendered files: found or failed loudly, files in a temp dir.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { execa } from 'execa';
import { renderHost, type RenderedFile } from '../../../lib/render/files.js';
import type { HostSecrets, ResolvedHost } from '../../../lib/inventory/index.js';
import { fakeSecrets } from '../../fixtures/inventories/hosts.js';

/** Absolute path of a program, or a failed test that says which Debian package provides it. */
export function tool(name: string, debianPackage: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  assert.fail(`${name} is not installed: apt-get install ${debianPackage} (.ci/run installs it)`);
}

/** A fresh directory, removed when the test (or whoever registers `after`) ends. */
export function tempDir(t: Pick<TestContext, 'after'> | { after: (fn: () => void) => void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `rtcops-${prefix}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeFile(path: string, content: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

export function rendered(host: ResolvedHost, id: string, secrets: Partial<HostSecrets> = {}): RenderedFile {
  const file = renderHost(host, { ...fakeSecrets(host), ...secrets }).files.find((f) => f.id === id);
  assert.ok(file, `no rendered file "${id}"`);
  return file;
}

export async function run(file: string, args: string[], options: { env?: Record<string, string> } = {}) {
  const result = await execa(file, args, { reject: false, all: true, env: options.env, timeout: 30_000 });
  return { exitCode: result.exitCode, output: String(result.all ?? '') };
}

/** A self-signed certificate for the given names, made with openssl. */
export function selfSignedCert(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, 'fullchain.pem');
  const key = join(dir, 'privkey.pem');
  execFileSync(tool('openssl', 'openssl'), [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

/** A port that was free on 127.0.0.1 for both udp and tcp a moment ago. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}
