#!/usr/bin/env zx
// A disposable Debian 12 or 13 target host: npx zx scripts/sandbox.mjs up | down | reset | status | ssh [cmd]
let cli, sandbox;
try {
  cli = await import('../dist/lib/cli.js');
  sandbox = await import('../dist/lib/sandbox/cli.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('/dist/lib/')) throw error;
  console.error('sandbox: error: dist/ is not built: run "npm run build" first');
  process.exit(2);
}
process.exitCode = await sandbox.runSandboxCli(cli.scriptArgs(import.meta.url));
