import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestS3 {
  /** http://127.0.0.1:<port>: give it as --s3-endpoint. */
  endpoint: string;
  /** The credentials s3rver accepts (its built-in account): set them as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. */
  accessKeyId: string;
  secretAccessKey: string;
  /** Where s3rver keeps the objects (on disk, one file per object plus metadata). */
  dir: string;
  stop: () => Promise<void>;
}

/**
 * s3rver (an S3-compatible server written in Node: the S3 REST API with SigV4 authentication, on disk) on 127.0.0.1,
 * with the given buckets. In a child process, so a test may block its own event loop (execFileSync of the daemon)
 * while the daemon talks to it.
 */
export async function startS3(buckets: string[]): Promise<TestS3> {
  const dir = mkdtempSync(join(tmpdir(), 'rtcops-s3-'));
  const main = createRequire(import.meta.url).resolve('s3rver');
  const script = `
    const S3rver = require(${JSON.stringify(main)});
    const srv = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: ${JSON.stringify(dir)}, configureBuckets: ${JSON.stringify(buckets.map((name) => ({ name })))} });
    srv.run().then(({ port }) => process.stdout.write(JSON.stringify({ port }) + '\\n'), (e) => { console.error(e); process.exit(1); });
    process.on('SIGTERM', () => srv.close().then(() => process.exit(0)));
  `;
  // s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider: without
  // it every truncated listing (more keys than max-keys) is an HTTP 500.
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`s3rver did not start: ${err}`)), 15_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) { clearTimeout(timer); resolve((JSON.parse(line) as { port: number }).port); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`s3rver exited (${code}): ${err}`)); });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    dir,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
