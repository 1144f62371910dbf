// The "sandbox" command: argument parsing (pure) and running a subcommand with human or JSON output.
import { spawn } from 'node:child_process';
import { minimist } from 'zx';
import { SandboxConfigError, SandboxFailure } from './errors.js';
import { type SandboxOptions, sandboxDown, sandboxStatus, sandboxTarget, sandboxUp, type SandboxUpResult } from './instance.js';
import { DEFAULT_NAME, nameProblem } from './layout.js';
import { streamProgress } from './progress.js';
import { runInGuest, sshArgv } from './ssh.js';

export const SUBCOMMANDS = ['up', 'down', 'reset', 'status', 'ssh'] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

export const USAGE = `Usage: npx zx scripts/sandbox.mjs <command> [options]

A disposable Debian 12 host (systemd, sshd, its own address) to rehearse provisioning and deploys on.

Commands:
  up             build the image once (cached), boot a fresh instance, wait for SSH
  down           stop it and remove its network, mounts and changes
  reset          down, then up
  status         running or not, address, uptime, disk used
  ssh [cmd...]   interactive ssh as the sandbox user (or run cmd), host key pinned

Options:
  --name NAME        which sandbox (default "${DEFAULT_NAME}" at 10.77.0.2; other names get another 10.77.N.0/24)
  --state-dir DIR    state directory (default $RTCOPS_SANDBOX_DIR or ~/.cache/rtcops/sandbox)
  --install-deps     apt-get install missing host packages first (up, reset)
  --json             print the result as JSON on stdout (progress stays on stderr)
  -h, --help         this help

Exit codes: 0 ok, 1 failed, 2 usage or machine problem, 130 interrupted.`;

export interface ParsedArgs {
  command: Subcommand | 'help';
  name: string;
  stateDir?: string;
  json: boolean;
  installDeps: boolean;
  remoteCommand: string[];
}

const PARSE_OPTIONS = {
  string: ['name', 'state-dir'],
  boolean: ['json', 'install-deps', 'help'],
  alias: { h: 'help' },
  stopEarly: true,
};

// Options may come before or after the command; for ssh, everything from the first non-option on is the remote command.
export function parseArgs(argv: string[]): ParsedArgs {
  const unknown: string[] = [];
  const parse = (args: string[]) =>
    minimist(args, {
      ...PARSE_OPTIONS,
      unknown: (arg: string) => {
        if (arg.startsWith('-')) unknown.push(arg);
        return !arg.startsWith('-');
      },
    });
  const first = parse(argv);
  const [command, ...rest] = first._.map(String);
  const second = parse(rest);
  if (unknown.length > 0) throw new SandboxConfigError(`unknown option ${unknown.join(', ')}\n\n${USAGE}`);
  const pick = (key: string): unknown => second[key] ?? first[key];
  const json = Boolean(second.json || first.json);
  const help = Boolean(second.help || first.help);
  const installDeps = Boolean(second['install-deps'] || first['install-deps']);
  const name = pick('name');
  const stateDir = pick('state-dir');
  for (const [flag, value] of [['--name', name], ['--state-dir', stateDir]] as const) {
    if (value !== undefined && (typeof value !== 'string' || value === '')) throw new SandboxConfigError(`${flag} needs a value\n\n${USAGE}`);
  }
  const base = {
    name: typeof name === 'string' ? name : DEFAULT_NAME,
    ...(typeof stateDir === 'string' ? { stateDir } : {}),
    json,
    installDeps,
  };
  if (help) return { ...base, command: 'help', remoteCommand: [] };
  if (command === undefined) throw new SandboxConfigError(`missing command\n\n${USAGE}`);
  if (!(SUBCOMMANDS as readonly string[]).includes(command)) {
    throw new SandboxConfigError(`unknown command "${command}" (expected one of: ${SUBCOMMANDS.join(', ')})\n\n${USAGE}`);
  }
  const remoteCommand = second._.map(String);
  if (command !== 'ssh' && remoteCommand.length > 0) {
    throw new SandboxConfigError(`"${command}" takes no arguments, got: ${remoteCommand.join(' ')}\n\n${USAGE}`);
  }
  const problem = nameProblem(base.name);
  if (problem) throw new SandboxConfigError(problem);
  return { ...base, command: command as Subcommand, remoteCommand };
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '?' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

function describeUp(up: SandboxUpResult): string {
  const head = up.alreadyRunning
    ? `sandbox "${up.name}" is already running at ${up.address}`
    : `sandbox "${up.name}" is up at ${up.address} (ready in ${up.totalSeconds.toFixed(1)}s` +
      `${up.imageBuilt ? `, image built in ${up.imageSeconds.toFixed(1)}s` : ', image cached'}, boot to SSH ${up.bootSeconds.toFixed(1)}s)`;
  const nameFlag = up.name === DEFAULT_NAME ? '' : ` --name ${up.name}`;
  return [
    head,
    `  ssh:   npx zx scripts/sandbox.mjs ssh${nameFlag}`,
    `         ${sshArgv(up).join(' ')}`,
    `  apt:   the guest's apt goes through ${up.aptProxy} (cache kept across down/up)`,
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
      const down = await sandboxDown(options);
      const up = await sandboxUp(options);
      return { result: { down, up }, text: describeUp(up), exitCode: 0 };
    }
    case 'status': {
      const status = await sandboxStatus(options);
      const image = status.imageCached ? `image cached (${mib(status.imageBytes)})` : 'image not built yet';
      const text = status.info
        ? [
            `sandbox "${status.name}" is running at ${status.info.address} (bridge ${status.info.bridge}, host ${status.info.hostAddress})`,
            `  up ${status.uptimeSeconds}s, SSH ${status.sshReady ? 'answering' : 'not answering'}, ` +
              `disk used by this instance ${mib(status.diskUsedBytes)}, ${image}`,
          ].join('\n')
        : `sandbox "${status.name}" is not running (${image})`;
      return { result: status, text, exitCode: 0 };
    }
    case 'ssh': {
      const target = await sandboxTarget(options);
      if (args.json) {
        if (args.remoteCommand.length === 0) throw new SandboxConfigError('ssh --json needs a command to run');
        const run = await runInGuest(target, args.remoteCommand.join(' '));
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

// Runs the command; returns the exit code (0 ok, 1 failed, 2 usage or machine problem, 130 interrupted).
export async function runSandboxCli(argv: string[]): Promise<number> {
  let args: ParsedArgs | undefined;
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (args?.command === 'ssh') return;
    if (!controller.signal.aborted) process.stderr.write(`\nsandbox: ${signal}: cleaning up, please wait\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    args = parseArgs(argv);
    const { result, text, exitCode } = await execute(args, controller.signal);
    if (args.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else if (text) process.stdout.write(text + '\n');
    return exitCode;
  } catch (error) {
    const exitCode = controller.signal.aborted
      ? 130
      : error instanceof SandboxConfigError || error instanceof SandboxFailure
        ? error.exitCode
        : 1;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`sandbox: ${exitCode === 130 ? 'interrupted' : 'error'}: ${message}\n`);
    if (process.env.RTCOPS_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    if (args?.json) process.stdout.write(JSON.stringify({ ok: false, exitCode, error: message }, null, 2) + '\n');
    return exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
