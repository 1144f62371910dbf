#!/usr/bin/env zx
// Restore a host from a backup, verified before anything changes: npx zx scripts/restore.mjs <host> --from <archive> [--key-file FILE] [--force]
import { runScript, scriptArgs } from '../dist/lib/cli.js';
import { restoreMain } from '../dist/lib/backup/command.js';

await runScript(restoreMain, scriptArgs(import.meta.url));
