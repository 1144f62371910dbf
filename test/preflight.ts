// Run before the integration tests: on a machine that lacks what they start for real, stop at once (exit 2) and
// name the one command that sets it up, instead of failing test by test.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { e2eOses } from './helpers/sandbox.js';
import { missingTools } from './helpers/test-tools.js';

const SETUP = 'bash scripts/setup.sh --test-tools npm test';

function has(probe: string): boolean {
  if (probe.startsWith('/')) return existsSync(probe);
  return [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin'].some((d) => existsSync(join(d, probe)));
}

/** A worker that links Debian 12's abseil cannot run on Debian 13 hosts. */
function linksBookwormAbseil(worker: string): boolean {
  try {
    return /libabsl_\w+\.so\.20220623/.test(execFileSync('ldd', [worker], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

const problems: string[] = [];
const missing = missingTools(readFileSync(new URL('../scripts/test-tools.txt', import.meta.url), 'utf8'), has);
if (missing.length > 0) problems.push(`missing Debian packages the tests start for real: ${missing.join(' ')}`);
if (process.getuid?.() !== 0) problems.push('the sandbox suites need root (bridges, mounts, containers)');
const worker = process.env['MEDIASOUP_WORKER_BIN'];
if (e2eOses().includes('debian-13') && !process.env['MEDIASOUP_WORKER_BIN_DEBIAN_13'] && worker !== undefined && linksBookwormAbseil(worker)) {
  problems.push(`MEDIASOUP_WORKER_BIN (${worker}) links Debian 12's abseil and cannot run on the Debian 13 sandbox: set MEDIASOUP_WORKER_BIN_DEBIAN_13 to one built on 13 (or RTCOPS_E2E_OS=debian-12 to run Debian 12 only)`);
}
if (problems.length > 0) {
  process.stderr.write(`npm test cannot run here yet:\n${problems.map((p) => `  - ${p}\n`).join('')}set up this machine with: ${SETUP}\n`);
  process.exit(2);
}
