import { createHmac } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { HostSecrets, ResolvedHost } from '../inventory/index.js';
import { NODE_EXPORTER_WEB_CONFIG } from '../host/index.js';

/** The basic-auth user Prometheus scrapes node_exporter as. */
export const NODE_EXPORTER_USER = 'prometheus';
const BCRYPT_COST = 10;
/** bcrypt is slow by design: each password is hashed once per process (renderHost runs often in one provision). */
const hashes = new Map<string, string>();

/** The password node_exporter asks for: secrets.nodeExporterPassword, else the admin token. */
export function nodeExporterPassword(secrets: HostSecrets): string {
  return (secrets.nodeExporterPassword ?? secrets.adminToken).reveal();
}

/**
 * The password's bcrypt hash. Its salt comes from the password and the host name, so the same password renders the
 * same file (a re-run changes nothing) and a new password a new salt.
 */
export function nodeExporterHash(host: ResolvedHost, password: string): string {
  const salt = createHmac('sha256', password).update(`rtcops node_exporter ${host.name}`).digest().subarray(0, 16);
  const setting = `$2b$${BCRYPT_COST}$${bcrypt.encodeBase64([...salt], 16)}`;
  const key = createHmac('sha256', password).update(setting).digest('hex');
  const hash = hashes.get(key) ?? bcrypt.hashSync(password, setting);
  hashes.set(key, hash);
  return hash;
}

/** Ubuntu 22.04's node_exporter 1.3.1 predates the flag's rename (1.5.0: --web.config → --web.config.file). */
export function webConfigFlag(host: ResolvedHost): string {
  return host.os === 'ubuntu-22.04' ? '--web.config' : '--web.config.file';
}

/** node_exporter's flags: the inventory's port on every address, and basic auth from the web config file. */
export function nodeExporterArgs(host: ResolvedHost): string {
  return `--web.listen-address=:${host.nodeExporter.port} ${webConfigFlag(host)}=${NODE_EXPORTER_WEB_CONFIG}`;
}
