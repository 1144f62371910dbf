#!/usr/bin/env zx
// Preflight of the operator's side, one line per check with its fix: npx zx scripts/doctor.mjs [host|group]... [--json]
import { runScript, scriptArgs } from '../dist/lib/cli.js';
import { doctorMain } from '../dist/lib/doctor/command.js';

await runScript(doctorMain, scriptArgs(import.meta.url));
