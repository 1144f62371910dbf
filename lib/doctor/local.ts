// The operator's machine: Node.js, the ssh client, the inventory. Nothing here connects anywhere.
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InventoryError, formatIssue, loadInventory, type Inventory } from '../inventory/index.js';
import { satisfies } from './node-version.js';
import { fail, ok, warn, type DoctorResult } from './result.js';

/** rtcops's package.json `engines.node`, found from source (tsx) or from dist/. */
export function enginesNode(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; engines?: { node?: string } };
      if (pkg.name === 'rtcops') return pkg.engines?.node;
    }
    dir = dirname(dir);
  }
  return undefined;
}

/** 1. The running Node.js against engines.node: older still runs the toolkit (it works on 20), so a warning. */
export function checkNode(version: string = process.version, range: string | undefined = enginesNode()): DoctorResult {
  if (range === undefined) return warn(null, 'node', `Node.js ${version}; package.json has no engines.node to compare with`);
  const fits = satisfies(version, range);
  if (fits === undefined) return warn(null, 'node', `Node.js ${version}; cannot read engines.node "${range}"`, 'check package.json engines.node');
  if (fits) return ok(null, 'node', `Node.js ${version} satisfies engines.node ${range}`);
  return warn(null, 'node', `Node.js ${version} is outside engines.node ${range} (the toolkit still runs on Node.js 20; the server and tests expect ${range})`,
    `install Node.js ${range} (e.g. nvm install 22, or https://nodejs.org)`);
}

/** The first executable `name` on PATH, or undefined. */
export function findOnPath(name: string, path: string = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** 2. The operator's own ssh client: rtcops connects by itself, this is for manual access and `sandbox.mjs ssh`. */
export function checkSshClient(path?: string): DoctorResult {
  const found = findOnPath('ssh', path);
  if (found !== undefined) return ok(null, 'ssh-client', `ssh client at ${found}`);
  return warn(null, 'ssh-client', 'no ssh client on PATH: rtcops itself still connects (it has its own SSH client), but manual access and `sandbox.mjs ssh` need one',
    'apt-get install openssh-client');
}

/** 3. The inventory loads and validates; a failure lists every problem with its path (and line). */
export function checkInventory(file: string): { result: DoctorResult; inventory: Inventory | undefined } {
  try {
    const inventory = loadInventory(file);
    const n = Object.keys(inventory.hosts).length;
    return { result: ok(null, 'inventory', `${file}: ${n} host${n === 1 ? '' : 's'} (${Object.keys(inventory.hosts).join(', ')})`), inventory };
  } catch (error) {
    if (!(error instanceof InventoryError)) throw error;
    const unreadable = error.issues.length === 1 && error.issues[0]?.message.startsWith('cannot read the inventory');
    const problems = error.issues.map((i) => formatIssue(file, i)).join('; ');
    return {
      result: fail(null, 'inventory', `${file}: ${error.issues.length} problem${error.issues.length === 1 ? '' : 's'}: ${problems}`,
        unreadable ? 'pass the inventory with -i <file> (default ./inventory.yaml, run from the repository)' : `edit ${file} (every key: docs/inventory.md)`),
      inventory: undefined,
    };
  }
}
