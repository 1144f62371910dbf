#!/usr/bin/env zx
// A connection test link for a host: npx zx scripts/token.mjs <host> [--room connection-test-NAME] [--ttl SECONDS] [--json]
import { runScript, scriptArgs } from '../dist/lib/cli.js';
import { tokenMain } from '../dist/lib/connection-test/token-command.js';

await runScript(tokenMain, scriptArgs(import.meta.url));
