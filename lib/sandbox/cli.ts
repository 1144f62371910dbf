// The "sandbox" command: argument parsing (pure) and running a subcommand with human or JSON output.
import { spawn } from 'node:child_process';
import { helpText, type Io, parseCli, processIo, UsageError } from '../cli.js';
import { SandboxAborted, SandboxConfigError } from './errors.js';
import { type SandboxOptions, sandboxDown, sandboxStatus, sandboxTarget, sandboxUp, type SandboxUpResult } from './instance.js';
import { DEFAULT_NAME, nameProblem } from './layout.js';
import { streamProgress } from './progress.js';
import { DEFAULT_OS, osProblem, RELEASES, SANDBOX_OSES, type SandboxOs } from './releases.js';
import { shJoin } from '../runner/quote.js';
import { runInGuest, sshArgv } from './ssh.js';

export const SUBCOMMANDS = ['up', 'down', 'reset', 'status', 'ssh'] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

const SPEC = {
  usage: 'sandbox.mjs <up|down|reset|status|ssh> [options] [-- command]',
  description: `A disposable Debian 12 or 13 host (systemd, sshd, its own address) to rehearse provisioning and deploys on.

Commands:
  up             build the image once (cached), boot a fresh instance, wait for SSH; the default sandbox also
                 gets its ACME server (pebble) and the sandbox host's secrets file
  down           stop it and remove its network, mounts and changes
  reset          down, then up
  status         running or not, address, uptime, disk used
  ssh [cmd...]   interactive ssh as the sandbox user (or run cmd, its words quoted as given; put "--" before a
                 cmd with options; a pipeline: -- sh -c 'a | b')

The default sandbox is at 10.77.0.2 (host side 10.77.0.1, ACME directory https://10.77.0.1:14000/dir); another
--name gets another free 10.77.N.0/24. State (operator key, known_hosts, image, apt cache, pebble-ca.pem,
secrets.yaml) lives in --state-dir, default $RTCOPS_SANDBOX_DIR or ~/.cache/rtcops/sandbox.
Exit 130 when interrupted (everything it had started is removed).`,
  options: {
    name: { type: 'string', default: DEFAULT_NAME },
    'state-dir': { type: 'string' },
    'install-deps': { type: 'boolean', default: false },
    acme: { type: 'boolean', default: false },
    os: { type: 'string' },
  },
  help: {
    name: `which sandbox (default "${DEFAULT_NAME}")`,
    'state-dir': 'state directory',
    'install-deps': 'apt-get install missing host packages first (up, reset)',
    acme: 'also run an ACME server (pebble) for a --name sandbox (up, reset; always on for the default one)',
    os: `the release to boot: ${SANDBOX_OSES.join(' or ')} (up, reset; default ${DEFAULT_OS}, or what the running sandbox is; each has its own cached image)`,
  },
} as const;

export const USAGE = helpText(SPEC);

export interface ParsedArgs {
  command: Subcommand | 'help';
  name: string;
  stateDir?: string;
  json: boolean;
  installDeps: boolean;
  acme: boolean;
  os?: SandboxOs;
  remoteCommand: string[];
}

const quiet: Io = { out: () => {}, err: () => {} };

// The shared conventions of lib/cli.ts (--json, --help, exit 2 on usage errors) plus the subcommand.
export function parseArgs(argv: string[]): ParsedArgs {
  const parsed = parseCli(SPEC, argv, quiet);
  if (!parsed) return { command: 'help', name: DEFAULT_NAME, json: false, installDeps: false, acme: false, remoteCommand: [] };
  const [command, ...remoteCommand] = parsed.positionals;
  const name = String(parsed.values.name);
  const stateDir = parsed.values['state-dir'];
  if (command === undefined) throw new UsageError(`missing command (one of: ${SUBCOMMANDS.join(', ')})`);
  if (!(SUBCOMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(`unknown command "${command}" (expected one of: ${SUBCOMMANDS.join(', ')})`);
  }
  if (command !== 'ssh' && remoteCommand.length > 0) throw new UsageError(`"${command}" takes no arguments, got: ${remoteCommand.join(' ')}`);
  if (typeof stateDir === 'string' && stateDir === '') throw new UsageError('--state-dir needs a directory');
  const os = parsed.values.os;
  const problem = nameProblem(name) ?? (typeof os === 'string' ? osProblem(os) : undefined);
  if (problem) throw new UsageError(problem);
  return {
    command: command as Subcommand,
    name,
    ...(typeof stateDir === 'string' ? { stateDir } : {}),
    json: parsed.json,
    installDeps: parsed.values['install-deps'] === true,
    acme: parsed.values.acme === true,
    ...(typeof os === 'string' ? { os: os as SandboxOs } : {}),
    remoteCommand,
  };
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '?' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

function describeUp(up: SandboxUpResult): string {
  const head = up.alreadyRunning
    ? `sandbox "${up.name}" is already running at ${up.address}`
    : `sandbox "${up.name}" (${RELEASES[up.os].label}) is up at ${up.address} (ready in ${up.totalSeconds.toFixed(1)}s` +
      `${up.imageBuilt ? `, image built in ${up.imageSeconds.toFixed(1)}s` : ', image cached'}, boot to SSH ${up.bootSeconds.toFixed(1)}s)`;
  const nameFlag = up.name === DEFAULT_NAME ? '' : ` --name ${up.name}`;
  return [
    head,
    `  ssh:   npx zx scripts/sandbox.mjs ssh${nameFlag}`,
    `         ${sshArgv(up).join(' ')}`,
    `  apt:   the guest's apt goes through ${up.aptProxy} (cache kept across down/up)`,
    ...(up.acme
      ? [`  acme:  ${up.acme.directoryUrl} (pebble; CA ${up.acme.caFile}; certificate roots ${up.acme.issuerRootsFile}), every name resolves to ${up.acme.answers}`]
      : []),
    `  secrets: ${up.secretsFile}`,
    `  stop:  npx zx scripts/sandbox.mjs down${nameFlag}`,
  ].join('\n');
}

async function execute(args: ParsedArgs, signal: AbortSignal): Promise<{ result: unknown; text: string; exitCode: number }> {
  const progress = streamProgress();
  const options: SandboxOptions = {
    name: args.name,
    progress,
    signal,
    installDeps: args.installDeps,
    ...(args.os ? { os: args.os } : {}),
    ...(args.acme ? { acme: true } : {}),
    ...(args.stateDir ? { stateDir: args.stateDir } : {}),
  };
  switch (args.command) {
    case 'help':
      return { result: { usage: USAGE }, text: USAGE, exitCode: 0 };
    case 'up': {
      const up = await sandboxUp(options);
      return { result: up, text: describeUp(up), exitCode: 0 };
    }
    case 'down': {
      const down = await sandboxDown(options);
      const text = down.wasRunning
        ? `sandbox "${down.name}" stopped; removed ${down.removed.join(', ')}`
        : `sandbox "${down.name}" was not running${down.removed.length ? `; cleaned up ${down.removed.join(', ')}` : ''}; nothing of it is left`;
      return { result: down, text, exitCode: 0 };
    }
    case 'reset': {
      // Without --os the fresh instance boots the release the old one ran.
      const { os } = await sandboxStatus(options);
      const down = await sandboxDown(options);
      const up = await sandboxUp({ ...options, os: args.os ?? os });
      return { result: { down, up }, text: describeUp(up), exitCode: 0 };
    }
    case 'status': {
      const status = await sandboxStatus(options);
      const release = RELEASES[status.os].label;
      const image = status.imageCached ? `${release} image cached (${mib(status.imageBytes)})` : `${release} image not built yet`;
      const text = status.info
        ? [
            `sandbox "${status.name}" (${RELEASES[status.os].label}) is running at ${status.info.address} (bridge ${status.info.bridge}, host ${status.info.hostAddress})`,
            `  up ${status.uptimeSeconds}s, SSH ${status.sshReady ? 'answering' : 'not answering'}, ` +
              `disk used by this instance ${mib(status.diskUsedBytes)}, ${image}`,
            ...(status.acme
              ? [
                  `  ACME server ${status.acme.directoryUrl}: ${status.acme.answering ? 'answering' : 'NOT answering ("up" starts it again)'}` +
                    ` (pebble pid ${status.acme.pebblePid ?? '?'}, pebble-challtestsrv pid ${status.acme.challtestsrvPid ?? '?'}` +
                    ` on ${status.acme.dnsServer}), CA ${status.acme.caFile}`,
                ]
              : []),
          ].join('\n')
        : `sandbox "${status.name}" is not running (${image})` +
          (status.leftovers ? `\n  its guest stopped by itself; "down" removes what it left (network, apt proxy, ACME server, mounts)` : '');
      return { result: status, text, exitCode: 0 };
    }
    case 'ssh': {
      const target = await sandboxTarget(options);
      if (args.json) {
        if (args.remoteCommand.length === 0) throw new SandboxConfigError('ssh --json needs a command to run');
        const run = await runInGuest(target, shJoin(args.remoteCommand));
        return { result: run, text: '', exitCode: run.code === 0 ? 0 : 1 };
      }
      const [file, ...rest] = sshArgv(target, args.remoteCommand);
      const child = spawn(file, rest, { stdio: 'inherit' });
      const code = await new Promise<number>((resolve) => {
        child.on('exit', (exitCode) => resolve(exitCode ?? 1));
        child.on('error', () => resolve(255));
      });
      return { result: { code }, text: '', exitCode: code };
    }
  }
}

function failure(error: unknown, aborted: boolean): { exitCode: number; kind: string; message: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (aborted || error instanceof SandboxAborted) return { exitCode: 130, kind: 'interrupted', message };
  if (error instanceof UsageError) return { exitCode: 2, kind: 'usage', message: `${message}\nRun with --help for usage.` };
  if (error instanceof SandboxConfigError) return { exitCode: error.exitCode, kind: 'config', message };
  return { exitCode: 1, kind: 'failed', message };
}

// Runs the command; returns the exit code (0 ok, 1 failed, 2 usage or machine problem, 130 interrupted).
export async function runSandboxCli(argv: string[], io: Io = processIo): Promise<number> {
  let args: ParsedArgs | undefined;
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (args?.command === 'ssh') return;
    if (!controller.signal.aborted) io.err(`sandbox: ${signal}: cleaning up, please wait`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    args = parseArgs(argv);
    const { result, text, exitCode } = await execute(args, controller.signal);
    if (args.json) io.out(JSON.stringify(result, null, 2));
    else if (text) io.out(text);
    return exitCode;
  } catch (error) {
    const { exitCode, kind, message } = failure(error, controller.signal.aborted);
    io.err(`sandbox: ${kind === 'interrupted' ? 'interrupted' : 'error'}: ${message}`);
    if (process.env.RTCOPS_DEBUG && error instanceof Error && error.stack) io.err(error.stack);
    if (args?.json || argv.includes('--json')) io.out(JSON.stringify({ ok: false, error: kind, message }));
    return exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
