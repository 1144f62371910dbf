#!/usr/bin/env zx
// Run the health daemon's checks once for a host: npx zx scripts/check.mjs <host> [--json] [--only <check,...>]
import { runScript, scriptArgs } from '../dist/lib/cli.js';
import { checkMain } from '../dist/lib/checks/command.js';

await runScript(checkMain, scriptArgs(import.meta.url));
