import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs } from '../../../lib/sandbox/cli.js';
import { UsageError } from '../../../lib/cli.js';

describe('sandbox command line', () => {
  const ok: [string, Partial<ReturnType<typeof parseArgs>>][] = [
    ['up', { command: 'up', name: 'sandbox', json: false, installDeps: false, acme: false, remoteCommand: [] }],
    ['up --name itest --acme', { command: 'up', name: 'itest', acme: true }],
    ['up --json', { command: 'up', json: true }],
    ['--json status', { command: 'status', json: true }],
    ['up --install-deps --name itest', { command: 'up', installDeps: true, name: 'itest' }],
    ['down --name=itest --state-dir /tmp/sb', { command: 'down', name: 'itest', stateDir: '/tmp/sb' }],
    ['reset', { command: 'reset' }],
    ['ssh', { command: 'ssh', remoteCommand: [] }],
    ['ssh uname', { command: 'ssh', remoteCommand: ['uname'] }],
    ['ssh -- uname -a', { command: 'ssh', remoteCommand: ['uname', '-a'] }],
    ['ssh --name itest -- ls -la /', { command: 'ssh', name: 'itest', remoteCommand: ['ls', '-la', '/'] }],
    ['ssh --json systemctl is-system-running', { command: 'ssh', json: true, remoteCommand: ['systemctl', 'is-system-running'] }],
    ['--help', { command: 'help' }],
    ['up -h', { command: 'help' }],
  ];
  for (const [line, expected] of ok) {
    it(`reads "${line}"`, () => {
      const parsed = parseArgs(line.split(' '));
      for (const [key, value] of Object.entries(expected)) assert.deepEqual(parsed[key as keyof typeof parsed], value, key);
    });
  }

  const bad: [string, RegExp][] = [
    ['', /missing command \(one of: up, down, reset, status, ssh\)/],
    ['start', /unknown command "start" \(expected one of: up, down, reset, status, ssh\)/],
    ['up --force', /Unknown option '--force'/],
    ['ssh uname -a', /Unknown option '-a'/],
    ['up extra', /"up" takes no arguments/],
    ['up --name', /--name/],
    ['up --name Prod', /sandbox name "Prod" must be/],
  ];
  for (const [line, message] of bad) {
    it(`rejects "${line}" as a usage error (exit 2)`, () => {
      assert.throws(
        () => parseArgs(line === '' ? [] : line.split(' ')),
        (error: unknown) => error instanceof UsageError && message.test(error.message),
      );
    });
  }
});
