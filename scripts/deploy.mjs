#!/usr/bin/env zx
// Deploy a release with a health gate and automatic rollback: npx zx scripts/deploy.mjs <host|group> [--ref REF | --artifact FILE] [--now] [--json]
import { runScript, scriptArgs } from '../dist/lib/cli.js';
import { deployMain } from '../dist/lib/deploy/command.js';

await runScript(deployMain, scriptArgs(import.meta.url));
