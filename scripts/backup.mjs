#!/usr/bin/env zx
// Back up hosts (configs, certificates, releases, alert state, audit logs; secrets encrypted): npx zx scripts/backup.mjs <host|group> [--out DIR] [--key-file FILE]
import { runScript, scriptArgs } from '../dist/lib/cli.js';
import { backupMain } from '../dist/lib/backup/command.js';

await runScript(backupMain, scriptArgs(import.meta.url));
