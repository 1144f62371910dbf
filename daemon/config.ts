import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { destinationProblem } from '../lib/alerting/destinations.js';
import { daemonConfigSchema, SECRET_ENV, type ChecksConfig, type DaemonConfig, type DaemonSecrets } from '../lib/daemon-config.js';

/** Loading the daemon's own config file (lib/daemon-config.ts's schema) and the secrets it names from the environment. */

/** Bad config or missing secret: one message per problem, each naming the fix. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly source: string, readonly problems: string[]) {
    super(`${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

export function parseConfig(input: unknown, source: string): DaemonConfig {
  const r = daemonConfigSchema.safeParse(input);
  if (!r.success) throw new ConfigError(source, r.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`));
  return r.data;
}

export function loadConfigFile(path: string): DaemonConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [`cannot read the config file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): pass --config <file> or set RTCOPS_HEALTH_CONFIG`]);
  }
  let input: unknown;
  try {
    input = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(path, [`not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n')[0] ?? ''}`]);
  }
  const cfg = parseConfig(input, path);
  const unreadable = [['alerting.caFile', cfg.alerting.caFile] as const].flatMap(([key, file]) => {
    if (file === undefined) return [];
    try {
      readFileSync(file);
      return [];
    } catch (error) {
      return [`${key}: ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): install the CA file there, or remove ${key}`];
    }
  });
  if (unreadable.length > 0) throw new ConfigError(path, unreadable);
  return cfg;
}

/** The config with only the named checks; a name that is not configured is a problem naming the ones that are. */
export function onlyChecks(cfg: DaemonConfig, names: string[], source: string): DaemonConfig {
  const configured = Object.keys(cfg.checks);
  const unknown = names.filter((n) => !configured.includes(n));
  if (unknown.length > 0) throw new ConfigError(source, unknown.map((n) => `--only ${n}: not a configured check (configured: ${configured.join(', ')})`));
  return { ...cfg, checks: Object.fromEntries(Object.entries(cfg.checks).filter(([n]) => names.includes(n))) as ChecksConfig };
}

/** The secrets the configured checks and providers need, from the environment; every missing one is named. */
export function secretsFromEnv(cfg: DaemonConfig, env: Record<string, string | undefined>, source: string): DaemonSecrets {
  const c = cfg.checks;
  const needs: [keyof typeof SECRET_ENV, boolean, string][] = [
    ['jwtSecret', c.server !== undefined || c['media-probe'] !== undefined, 'the server and media-probe checks sign a signaling token with it'],
    ['adminToken', c.server !== undefined, 'the server check reads /status with it'],
    ['turnSecret', c.turn !== undefined || (c['media-probe']?.relayUrls.length ?? 0) > 0, 'the turn check and the relayed media probe mint TURN credentials with it'],
    ['slackWebhookUrl', cfg.alerting.slack, 'alerting.slack is on'],
    ['webhookUrl', cfg.alerting.webhook, 'alerting.webhook is on'],
    ['heartbeatUrl', cfg.alerting.heartbeat !== undefined, 'alerting.heartbeat is on'],
  ];
  const problems = needs
    .filter(([key, needed]) => needed && (env[SECRET_ENV[key]] ?? '') === '')
    .map(([key, , why]) => `${SECRET_ENV[key]} is not set (${why}): add it to the daemon's EnvironmentFile`);
  for (const [key, on] of [['slackWebhookUrl', cfg.alerting.slack], ['webhookUrl', cfg.alerting.webhook], ['heartbeatUrl', cfg.alerting.heartbeat !== undefined]] as const) {
    const url = env[SECRET_ENV[key]] ?? '';
    const problem = on && url !== '' ? destinationProblem(url, cfg.alerting.plainHttpTo, SECRET_ENV[key]) : undefined;
    if (problem !== undefined) problems.push(`${problem}: fix it in the daemon's EnvironmentFile, or list the address's network in alerting.plainHttpTo`);
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  const get = (k: keyof typeof SECRET_ENV) => (env[SECRET_ENV[k]] === '' ? undefined : env[SECRET_ENV[k]]);
  return { jwtSecret: get('jwtSecret'), adminToken: get('adminToken'), turnSecret: get('turnSecret'), slackWebhookUrl: get('slackWebhookUrl'), webhookUrl: get('webhookUrl'), webhookToken: get('webhookToken'), heartbeatUrl: get('heartbeatUrl') };
}
