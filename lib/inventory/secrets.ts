import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import { parse } from 'yaml';
import { destinationProblem } from '../alerting/destinations.js';
import { InventoryError, type InventoryIssue } from './errors.js';
import type { ResolvedHost } from './resolve.js';

const REDACTED = '[secret]';

/** A secret value that prints as [secret] in logs, JSON and errors; reveal() is the one way out. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}

export interface HostSecrets {
  jwtSecret: Secret;
  adminToken: Secret;
  turnSecret: Secret;
  /** node_exporter's basic-auth password (secrets.nodeExporterPassword); the admin token when unset. */
  nodeExporterPassword?: Secret | undefined;
  slackWebhookUrl: Secret | undefined;
  webhookUrl?: Secret | undefined;
  webhookToken?: Secret | undefined;
  heartbeatUrl?: Secret | undefined;
  /** Only during a rotation: the old values, still accepted (RUNBOOK.md#rotate-secrets). */
  jwtSecretPrevious?: Secret | undefined;
  turnSecretPrevious?: Secret | undefined;
}

type Env = Record<string, string | undefined>;
const MIN_LENGTH = 32;
const BCRYPT_MAX_BYTES = 72;

/** Git refuses to track the path? Outside a work tree there is nothing to check. */
export function isGitIgnored(path: string): boolean {
  let cwd = dirname(path);
  while (!existsSync(cwd)) cwd = dirname(cwd);
  try {
    execFileSync('git', ['check-ignore', '-q', '--no-index', path], { cwd, stdio: 'ignore' });
    return true;
  } catch (error) {
    return (error as { status?: number }).status !== 1;
  }
}

function readSecretsFile(file: string, report: (path: string, message: string) => void): Record<string, unknown> | undefined {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    report('secrets.file', `${file} does not exist`);
    return undefined;
  }
  if ((mode & 0o077) !== 0) {
    report('secrets.file', `${file} must be mode 0600 (it is 0${mode.toString(8)}): chmod 600 ${file}`);
    return undefined;
  }
  if (!isGitIgnored(file)) {
    report('secrets.file', `${file} is not git-ignored: add it to .gitignore before putting secrets in it`);
    return undefined;
  }
  let values: unknown;
  try {
    values = parse(readFileSync(file, 'utf8'));
  } catch {
    report('secrets.file', `${file} is not valid YAML`);
    return undefined;
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    report('secrets.file', `${file} must be a mapping of key: value`);
    return undefined;
  }
  return values as Record<string, unknown>;
}

/**
 * Look up every secret a host needs, from the operator's environment or the secrets file. Reports all
 * missing or unusable secrets at once, naming the variable or key, never the value.
 */
export function resolveSecrets(host: ResolvedHost, inventoryFile: string, env: Env = process.env): HostSecrets {
  const issues: InventoryIssue[] = [];
  const report = (path: string, message: string) => issues.push({ path: `hosts.${host.name}.${path}`, message });
  const needsFile = Object.values(host.secrets).some((ref) => typeof ref === 'object' && ref.key !== undefined);
  const fileValues = needsFile && host.secrets.file !== undefined ? readSecretsFile(host.secrets.file, report) : undefined;

  const lookup = (name: keyof HostSecrets, check: (value: string) => string | undefined): Secret | undefined => {
    const ref = host.secrets[name];
    if (ref === undefined) return undefined;
    const source = ref.env !== undefined ? `environment variable ${ref.env}` : `key "${ref.key ?? ''}" of ${host.secrets.file ?? 'secrets.file'}`;
    if (ref.key !== undefined && fileValues === undefined) return undefined;
    const value = ref.env !== undefined ? env[ref.env] : fileValues?.[ref.key ?? ''];
    if (value === undefined || value === '') {
      report(`secrets.${name}`, `${source} is not set`);
      return undefined;
    }
    if (typeof value !== 'string') {
      report(`secrets.${name}`, `${source} must be a string`);
      return undefined;
    }
    const problem = /[\s'"\\]/.test(value) ? 'must not contain spaces, quotes or backslashes' : check(value);
    if (problem !== undefined) report(`secrets.${name}`, `${source} ${problem}`);
    return new Secret(value);
  };
  // bcrypt reads only the first 72 bytes of a password.
  const bcryptable = (value: string) => (Buffer.byteLength(value) > BCRYPT_MAX_BYTES ? `is too long for bcrypt (${Buffer.byteLength(value)} bytes; node_exporter's basic auth takes at most ${BCRYPT_MAX_BYTES})` : undefined);
  const longEnough = (value: string) => (value.length < MIN_LENGTH ? `is too short (${value.length} characters; use at least ${MIN_LENGTH}, e.g. openssl rand -hex 32)` : undefined);
  // https, or plain http to an address inside alerts.plainHttpTo; the message never holds the URL.
  const alertUrl = (value: string) => destinationProblem(value, host.alerts.plainHttpTo, 'the value')?.replace(/^the value /, '');

  const secrets = {
    jwtSecret: lookup('jwtSecret', longEnough),
    adminToken: lookup('adminToken', longEnough),
    turnSecret: lookup('turnSecret', longEnough),
    nodeExporterPassword: lookup('nodeExporterPassword', (value) => longEnough(value) ?? bcryptable(value)),
    slackWebhookUrl: lookup('slackWebhookUrl', alertUrl),
    webhookUrl: lookup('webhookUrl', alertUrl),
    webhookToken: lookup('webhookToken', () => undefined),
    heartbeatUrl: lookup('heartbeatUrl', alertUrl),
    jwtSecretPrevious: lookup('jwtSecretPrevious', longEnough),
    turnSecretPrevious: lookup('turnSecretPrevious', longEnough),
  };
  const { jwtSecret, adminToken, turnSecret, jwtSecretPrevious, turnSecretPrevious } = secrets;
  for (const [name, previous, current] of [['jwtSecretPrevious', jwtSecretPrevious, jwtSecret], ['turnSecretPrevious', turnSecretPrevious, turnSecret]] as const) {
    if (previous !== undefined && current !== undefined && previous.reveal() === current.reveal()) {
      report(`secrets.${name}`, `holds the same value as secrets.${name.replace('Previous', '')}: give the new value to ${name.replace('Previous', '')} and the old one here, or remove ${name} once the rotation is over`);
    }
  }
  if (host.nodeExporter.enabled && secrets.nodeExporterPassword === undefined && adminToken !== undefined && bcryptable(adminToken.reveal()) !== undefined) {
    report('secrets.nodeExporterPassword', `is needed: node_exporter's password defaults to the admin token, which ${bcryptable(adminToken.reveal()) ?? ''}`);
  }
  if (issues.length > 0 || jwtSecret === undefined || adminToken === undefined || turnSecret === undefined) throw new InventoryError(inventoryFile, issues);
  return {
    jwtSecret, adminToken, turnSecret, slackWebhookUrl: secrets.slackWebhookUrl,
    ...(secrets.nodeExporterPassword !== undefined ? { nodeExporterPassword: secrets.nodeExporterPassword } : {}),
    ...(secrets.webhookUrl !== undefined ? { webhookUrl: secrets.webhookUrl } : {}),
    ...(secrets.webhookToken !== undefined ? { webhookToken: secrets.webhookToken } : {}),
    ...(secrets.heartbeatUrl !== undefined ? { heartbeatUrl: secrets.heartbeatUrl } : {}),
    ...(jwtSecretPrevious !== undefined ? { jwtSecretPrevious } : {}),
    ...(turnSecretPrevious !== undefined ? { turnSecretPrevious } : {}),
  };
}
