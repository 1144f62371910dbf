#!/usr/bin/env zx
// Render every file for one host from the inventory, for review: npx zx scripts/render.mjs <host> [--out DIR] [--json]
import { runScript, scriptArgs } from '../dist/lib/cli.js';
import { renderMain } from '../dist/lib/render/command.js';

await runScript(renderMain, scriptArgs(import.meta.url));
