#!/usr/bin/env zx
// Prometheus scrape config and alert rules for every host: npx zx scripts/prometheus.mjs [--out DIR] [--json]
import { runScript, scriptArgs } from '../dist/lib/cli.js';
import { prometheusMain } from '../dist/lib/render/prometheus.js';

await runScript(prometheusMain, scriptArgs(import.meta.url));
