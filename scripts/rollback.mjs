#!/usr/bin/env zx
// Return to the previous (or a named) release through the same health gate: npx zx scripts/rollback.mjs <host|group> [--to ID]
import { runScript, scriptArgs } from '../dist/lib/cli.js';
import { rollbackMain } from '../dist/lib/deploy/command.js';

await runScript(rollbackMain, scriptArgs(import.meta.url));
