import { parseArgs } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import pino from 'pino';
import { runCheck } from '../lib/checks/result.js';
import { buildChecks, loadBackupJob } from '../lib/checks/index.js';
import type { BackupJob } from '../lib/checks/backup.js';
import { ConfigError, loadConfigFile, onlyChecks, secretsFromEnv } from './config.js';
import { startDaemon } from './daemon.js';
import { formatTable, hasCritical } from '../lib/checks/report.js';

const USAGE = `Usage: node dist/daemon/main.js --config <file> [--once [--json] [--only <check,...>]] [--check-config]

The rtcops health daemon: runs the configured checks on their schedules, alerts Slack / a webhook,
serves /healthz and /metrics. Secrets come from environment variables (JWT_SECRET, ADMIN_TOKEN,
TURN_SECRET, SLACK_WEBHOOK_URL, ALERT_WEBHOOK_URL, ALERT_WEBHOOK_TOKEN, HEARTBEAT_URL).

  --config <file>   JSON or YAML config (default: $RTCOPS_HEALTH_CONFIG)
  --once            Run every check once, print the results, exit 1 if any is critical
  --json            With --once: print the results as JSON
  --only <checks>   With --once: run only these configured checks (comma-separated); only their secrets are needed
  --check-config    Validate the config and the secrets it needs, then exit

Exit status: 0 ok, 1 a check is critical (--once) or the daemon failed, 2 usage or config error.`;

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  let values: { config?: string | undefined; once?: boolean | undefined; json?: boolean | undefined; only?: string | undefined; 'check-config'?: boolean | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: 'string' }, once: { type: 'boolean' }, json: { type: 'boolean' }, only: { type: 'string' }, 'check-config': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const path = values.config ?? env['RTCOPS_HEALTH_CONFIG'];
  if (path === undefined || path === '') {
    process.stderr.write(`no config: pass --config <file> or set RTCOPS_HEALTH_CONFIG\n\n${USAGE}\n`);
    return 2;
  }
  const cfg = values.only === undefined ? loadConfigFile(path) : onlyChecks(loadConfigFile(path), values.only.split(','), path);
  // --once sends no alerts and no heartbeat, so it needs no destinations' secrets.
  const secrets = secretsFromEnv(values.once === true ? { ...cfg, alerting: { ...cfg.alerting, slack: false, webhook: false, heartbeat: undefined } } : cfg, env, path);
  // The backup job loads its inventory, secrets and key now: a problem is a config error at start, not at 3 a.m.
  let backupJob: BackupJob | undefined;
  if (cfg.checks.backup !== undefined) {
    try {
      backupJob = await loadBackupJob(cfg.checks.backup, env);
    } catch (error) {
      const problems = (error as { problems?: string[] }).problems ?? [(error as Error).message];
      throw new ConfigError(path, problems.map((p) => `checks.backup: ${p.replace(/^checks\.backup: /, '')}`));
    }
  }
  if (values['check-config'] === true) {
    process.stdout.write(`${path}: OK (${Object.keys(cfg.checks).join(', ')})\n`);
    return 0;
  }
  if (values.once === true) {
    const results = (await Promise.all(buildChecks(cfg.checks, secrets, { backupJob, deployMarker: cfg.deployMarker }).map((c) => runCheck(c.check, c.timeoutMs)))).flat();
    process.stdout.write(`${values.json === true ? JSON.stringify({ host: cfg.host, ok: !hasCritical(results), results }) : formatTable(results)}\n`);
    return hasCritical(results) ? 1 : 0;
  }
  const log = pino({ level: cfg.logLevel, base: { service: 'rtcops-health', host: cfg.host } });
  const daemon = await startDaemon(cfg, secrets, log, { ...(backupJob !== undefined ? { backupJob } : {}) });
  void daemon.scheduler.runAll();
  const shutdown = (signal: string) => {
    log.info({ event: 'daemon_stopping', signal }, 'stopping');
    void daemon.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return undefined;
}

// The media probe's worker thread loads this module too when the daemon is one bundled file: it must not start a daemon.
if (isMainThread) main(process.argv.slice(2), process.env).then(
  (code) => {
    // --once and config checks end here; probes (werift, sockets) may leave handles that would keep the process up.
    if (code !== undefined) process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof ConfigError ? error.message : `error: ${(error as Error).message}`}\n`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
  },
);
