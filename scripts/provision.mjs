#!/usr/bin/env zx
// Provision hosts from the inventory over SSH: npx zx scripts/provision.mjs <host|group>... [--check] [--diff] [--json]
import { runScript, scriptArgs } from '../dist/lib/cli.js';
import { provisionMain } from '../dist/lib/provision/command.js';

await runScript(provisionMain, scriptArgs(import.meta.url));
