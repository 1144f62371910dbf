import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type _Object } from '@aws-sdk/client-s3';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { archiveName, archiveTime } from './archive.js';
import { retain, type RetentionPolicy } from './retention.js';

/**
 * The off-site copy of the backups: an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Cloudflare R2, Backblaze B2,
 * Wasabi, ...). Archives go to s3://<bucket>/<prefix>/<host>/<archive> with the .sha256 beside them, exactly as in
 * the local directory, so one can be copied by hand with any S3 tool and restored from the bucket or a download.
 *
 * Credentials come from the standard environment variables only (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional
 * AWS_SESSION_TOKEN), never from the inventory or the command line; the endpoint of a non-AWS service from
 * --s3-endpoint or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (path-style addressing then, which they all speak).
 */

export interface S3Location {
  bucket: string;
  /** Without leading or trailing slash; '' for the bucket's root. */
  prefix: string;
}

/** Something wrong with the remote target (URL, credentials, endpoint, bucket); `hint` says what to do. No secret in either. */
export class RemoteStoreError extends Error {
  override name = 'RemoteStoreError';
  constructor(message: string, readonly hint: string) {
    super(message);
  }
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function isS3Url(s: string): boolean {
  return s.startsWith('s3://');
}

/** s3://bucket[/prefix...] → its parts; anything else is an input error naming the form. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  const bucket = m?.[1];
  if (m === null || bucket === undefined || !BUCKET.test(bucket)) {
    throw new RemoteStoreError(`${url} is not an S3 URL with a valid bucket name`, 'write it as s3://<bucket>/<prefix>, e.g. s3://acme-backups/rtcops (bucket names: 3–63 lower-case letters, digits, dots, hyphens)');
  }
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((p) => p === '..' || p === '.')) throw new RemoteStoreError(`${url}: the prefix may not contain "." or ".." segments`, 'name the folder plainly, e.g. s3://acme-backups/rtcops');
  return { bucket, prefix };
}

export interface S3Settings {
  region: string;
  endpoint?: string | undefined;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** The connection settings from the environment (and an explicit endpoint); a missing credential names its variable. */
export function s3SettingsFromEnv(env: Record<string, string | undefined>, url: string, endpoint?: string): S3Settings {
  const missing = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'].filter((v) => (env[v] ?? '') === '');
  if (missing.length > 0) {
    throw new RemoteStoreError(`${url} needs S3 credentials: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set`,
      `export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (a key that may put, list, get and delete objects under ${url}); for a non-AWS service also AWS_ENDPOINT_URL_S3 or --s3-endpoint`);
  }
  const ep = endpoint ?? (env['AWS_ENDPOINT_URL_S3'] || env['AWS_ENDPOINT_URL'] || undefined);
  if (ep !== undefined) {
    let u: URL | undefined;
    try { u = new URL(ep); } catch { u = undefined; }
    if (u === undefined || (u.protocol !== 'https:' && u.protocol !== 'http:')) throw new RemoteStoreError(`S3 endpoint ${ep} is not an http(s) URL`, 'give it as https://<host>[:port], e.g. https://s3.eu-central-003.backblazeb2.com or http://127.0.0.1:9000');
  }
  const token = env['AWS_SESSION_TOKEN'];
  return {
    region: env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || 'us-east-1',
    endpoint: ep,
    credentials: { accessKeyId: env['AWS_ACCESS_KEY_ID'] as string, secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] as string, ...(token ? { sessionToken: token } : {}) },
  };
}

export interface RemoteArchive {
  key: string;
  name: string;
  at: Date;
  bytes: number;
}

export class S3Store {
  readonly location: S3Location;
  private readonly client: S3Client;
  private readonly endpoint: string | undefined;

  constructor(readonly url: string, settings: S3Settings) {
    this.location = parseS3Url(url);
    this.endpoint = settings.endpoint;
    this.client = new S3Client({
      region: settings.region,
      credentials: settings.credentials,
      ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint, forcePathStyle: true } : {}),
      // Checksums only where S3 requires them: S3-compatible services (older MinIO, Ceph, R2, B2) reject the
      // aws-chunked trailers newer SDKs send by default. Integrity is ours anyway: the .sha256, checked on restore.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
    });
  }

  static fromEnv(url: string, env: Record<string, string | undefined> = process.env, endpoint?: string): S3Store {
    parseS3Url(url);
    return new S3Store(url, s3SettingsFromEnv(env, url, endpoint));
  }

  /** s3://bucket/prefix (at the endpoint), for messages. */
  describe(): string {
    return `${this.url.replace(/\/+$/, '')}${this.endpoint !== undefined ? ` at ${this.endpoint}` : ''}`;
  }

  private dirKey(host: string): string {
    return this.location.prefix === '' ? `${host}/` : `${this.location.prefix}/${host}/`;
  }

  /** One cheap request that proves the URL, the credentials and the endpoint before any host is touched. */
  async check(): Promise<void> {
    await this.call('list the prefix', () => this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: this.location.prefix === '' ? undefined : `${this.location.prefix}/`, MaxKeys: 1 })));
  }

  /** Uploads an archive and its .sha256 to <prefix>/<host>/ and checks the stored size; the .sha256 goes last, so a listed .sha256 means a whole archive. */
  async upload(file: string, host: string): Promise<{ key: string; bytes: number }> {
    const key = this.dirKey(host) + basename(file);
    const bytes = statSync(file).size;
    await this.call(`upload ${basename(file)}`, () => this.client.send(new PutObjectCommand({
      Bucket: this.location.bucket, Key: key, Body: createReadStream(file), ContentLength: bytes, ContentType: 'application/gzip',
    })));
    const head = await this.call(`check ${basename(file)}`, () => this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: key })));
    if (head.ContentLength !== bytes) throw new RemoteStoreError(`${this.describe()}: ${key} holds ${head.ContentLength ?? '?'} bytes after the upload, the archive has ${bytes}`, 'run the backup again; if it repeats, check the service');
    const sum = statSync(`${file}.sha256`).size;
    await this.call(`upload ${basename(file)}.sha256`, () => this.client.send(new PutObjectCommand({
      Bucket: this.location.bucket, Key: `${key}.sha256`, Body: createReadStream(`${file}.sha256`), ContentLength: sum, ContentType: 'text/plain',
    })));
    return { key, bytes };
  }

  /** The archives of one app and host in the bucket, newest first (only names this tool writes; other objects are never touched). */
  async list(app: string, host: string): Promise<RemoteArchive[]> {
    return (await this.scan(app, host)).complete;
  }

  /**
   * Our objects under <prefix>/<host>/: complete archives (the .sha256 is there: it is uploaded last) and orphans
   * (an archive whose upload did not finish).
   */
  private async scan(app: string, host: string): Promise<{ complete: RemoteArchive[]; orphans: RemoteArchive[] }> {
    const prefix = this.dirKey(host);
    const objects: _Object[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('list the archives', () => this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: prefix, ContinuationToken: token })));
      objects.push(...(page.Contents ?? []));
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    const sums = new Set(objects.map((o) => o.Key ?? '').filter((k) => k.endsWith('.sha256')));
    const ours = objects.flatMap((o) => {
      const k = o.Key ?? '';
      const name = k.slice(prefix.length);
      const at = archiveTime(name);
      return at !== undefined && name === archiveName(app, host, at) ? [{ key: k, name, at, bytes: o.Size ?? 0 }] : [];
    }).sort((a, b) => b.at.getTime() - a.at.getTime());
    return { complete: ours.filter((a) => sums.has(`${a.key}.sha256`)), orphans: ours.filter((a) => !sums.has(`${a.key}.sha256`)) };
  }

  /**
   * Applies the retention policy to the bucket's archives of one host, and deletes unfinished uploads older than the
   * newest complete archive; returns the deleted archive keys.
   */
  async prune(app: string, host: string, policy: RetentionPolicy): Promise<{ kept: number; deleted: string[] }> {
    const { complete, orphans } = await this.scan(app, host);
    const { keep, drop } = retain(complete, policy);
    const newest = complete[0]?.at.getTime() ?? Infinity;
    const stale = orphans.filter((o) => o.at.getTime() < newest);
    const keys = [...drop.flatMap((d) => [d.key, `${d.key}.sha256`]), ...stale.map((o) => o.key)];
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const r = await this.call('delete old archives', () => this.client.send(new DeleteObjectsCommand({ Bucket: this.location.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })));
      const failed = r.Errors ?? [];
      if (failed.length > 0) throw new RemoteStoreError(`${this.describe()}: could not delete ${failed.map((e) => `${e.Key ?? '?'} (${e.Code ?? '?'})`).join(', ')}`, 'the key needs s3:DeleteObject on the prefix for retention');
    }
    return { kept: keep.length, deleted: [...drop, ...stale].map((d) => d.key) };
  }

  /**
   * Downloads an archive and its .sha256 into `dir`: `ref` is the URL of an archive (…/<name>.tar.gz) or of the
   * prefix the backups went to, which means the newest archive of this app and host.
   */
  async fetch(ref: string, app: string, host: string, dir: string): Promise<{ file: string; key: string }> {
    const loc = parseS3Url(ref);
    let key: string;
    if (archiveTime(loc.prefix) !== undefined) {
      key = loc.prefix;
    } else {
      const newest = (await this.list(app, host))[0];
      if (newest === undefined) throw new RemoteStoreError(`${this.describe()}: no backup of ${host} (${app}) under ${this.dirKey(host)}`, `list the bucket (aws s3 ls ${this.url.replace(/\/+$/, '')}/${host}/) and give the archive's URL, or back the host up first`);
      key = newest.key;
    }
    const file = join(dir, basename(key));
    for (const [k, f] of [[key, file], [`${key}.sha256`, `${file}.sha256`]] as const) {
      const r = await this.call(`download ${basename(k)}`, () => this.client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: k })));
      if (r.Body === undefined) throw new RemoteStoreError(`${this.describe()}: ${k} came back empty`, 'download it by hand and restore from the file');
      await pipeline(r.Body as Readable, createWriteStream(f, { mode: 0o600 }));
    }
    return { file, key };
  }

  close(): void {
    this.client.destroy();
  }

  /** Runs one S3 request; its failure becomes a RemoteStoreError that names the bucket, the request and what to check. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.explain(what, err as Error & { code?: string; Code?: string; $metadata?: { httpStatusCode?: number } });
    }
  }

  private explain(what: string, err: Error & { code?: string; Code?: string; $metadata?: { httpStatusCode?: number } }): RemoteStoreError {
    const where = this.describe();
    const status = err.$metadata?.httpStatusCode;
    const code = err.name !== 'Error' && err.name !== 'UnknownError' ? err.name : (err.code ?? err.Code ?? '');
    if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'TimeoutError'].includes(err.code ?? err.name)) {
      return new RemoteStoreError(`${where}: ${what}: cannot reach the S3 endpoint (${err.code ?? err.name})`, this.endpoint !== undefined ? 'check --s3-endpoint / AWS_ENDPOINT_URL_S3 and that the service is up' : 'check the network to S3, or give the endpoint of your S3-compatible service with --s3-endpoint');
    }
    if (code === 'NoSuchBucket') return new RemoteStoreError(`${where}: ${what}: bucket ${this.location.bucket} does not exist`, 'create the bucket (with versioning or object lock, if your service has them) or fix the URL');
    if (code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch' || code === 'AccessDenied' || code === 'InvalidToken' || code === 'ExpiredToken' || status === 403) {
      return new RemoteStoreError(`${where}: ${what}: the service refused the credentials (${code || status})`, 'check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) and that the key may put, list, get and delete under this prefix');
    }
    if (code === 'NoSuchKey' || code === 'NotFound' || status === 404) return new RemoteStoreError(`${where}: ${what}: no such object`, 'list the bucket and give the URL of an archive that exists');
    return new RemoteStoreError(`${where}: ${what} failed: ${code || 'error'}${status !== undefined ? ` (HTTP ${status})` : ''}: ${err.message}`, 'run it again; if it repeats, check the service');
  }
}
