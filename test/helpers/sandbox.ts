// The sandboxes end-to-end suites run on: one per suite and release, never the operator's default one, and held by
// one test run at a time (a second run on the machine waits for the first instead of tearing its sandbox down).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VERIFIED_OSES } from '../../lib/inventory/os.js';
import {
  DEFAULT_NAME,
  defaultStateDir,
  isSandboxOs,
  sandboxDown,
  sandboxUp,
  type SandboxOptions,
  type SandboxOs,
  type SandboxUpResult,
} from '../../lib/sandbox/index.js';

/** The releases the end-to-end suites run on: every verified one, or RTCOPS_E2E_OS (comma-separated) to run fewer. */
export function e2eOses(env: NodeJS.ProcessEnv = process.env): SandboxOs[] {
  const wanted = env['RTCOPS_E2E_OS']?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (wanted === undefined || wanted.length === 0) return VERIFIED_OSES.filter(isSandboxOs);
  const bad = wanted.filter((os) => !isSandboxOs(os));
  if (bad.length > 0) throw new Error(`RTCOPS_E2E_OS: ${bad.join(', ')} is not a release the sandbox boots (${VERIFIED_OSES.join(', ')})`);
  return wanted as SandboxOs[];
}

/**
 * For suites whose subject does not differ between releases beyond what the provision and deploy suites already run
 * on every release (the sandbox's own lifecycle, convergence): the first verified release by default, to keep
 * `npm test` well under 30 minutes; RTCOPS_E2E_OS names more (RTCOPS_E2E_OS=debian-12,debian-13 runs both).
 */
export function e2eOsesFirst(env: NodeJS.ProcessEnv = process.env): SandboxOs[] {
  const all = e2eOses(env);
  return (env['RTCOPS_E2E_OS'] ?? '').trim() === '' ? all.slice(0, 1) : all;
}

/** "deploy" on debian-13 → "deploy-d13": within the 12 characters a sandbox name may have, never the default name. */
export function e2eName(suite: string, os: SandboxOs): string {
  const name = `${suite}-d${os.split('-')[1] ?? ''}`;
  if (name === DEFAULT_NAME || name.length > 12) throw new Error(`test sandbox name "${name}" must not be "${DEFAULT_NAME}" and at most 12 characters`);
  return name;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the test lease on a sandbox name, waiting while another live test process holds it; returns its release. */
export async function holdSandbox(name: string, stateDir = defaultStateDir()): Promise<() => void> {
  const dir = join(stateDir, 'test-leases');
  const file = join(dir, name);
  mkdirSync(dir, { recursive: true });
  let told = false;
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(file, 'utf8'));
    if (!holder || holder === process.pid || !alive(holder)) {
      rmSync(file, { force: true });
      continue;
    }
    if (!told) process.stderr.write(`waiting for test process ${holder}, which is using sandbox "${name}"\n`);
    told = true;
    await sleep(2_000);
  }
}

export interface TestSandbox {
  sb: SandboxUpResult;
  /** Takes the sandbox down and gives the lease back. */
  stop: () => Promise<void>;
}

/** A fresh sandbox for one suite: the lease, whatever a killed earlier run left of it removed, then up. */
export async function freshSandbox(name: string, os: SandboxOs, options: Omit<SandboxOptions, 'name' | 'os'> = {}): Promise<TestSandbox> {
  const release = await holdSandbox(name, options.stateDir);
  try {
    await sandboxDown({ ...options, name });
    const sb = await sandboxUp({ ...options, name, os });
    return {
      sb,
      stop: async () => {
        try {
          await sandboxDown({ ...options, name });
        } finally {
          release();
        }
      },
    };
  } catch (error) {
    await sandboxDown({ ...options, name }).catch(() => undefined);
    release();
    throw error;
  }
}
