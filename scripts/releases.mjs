#!/usr/bin/env zx
// The releases on a host and the last deploys' outcomes: npx zx scripts/releases.mjs <host> [--json]
import { runScript, scriptArgs } from '../dist/lib/cli.js';
import { releasesMain } from '../dist/lib/deploy/command.js';

await runScript(releasesMain, scriptArgs(import.meta.url));
