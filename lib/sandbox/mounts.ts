// The throw-away layer of an instance: a tmpfs holding the overlay's upper and work directories.
import fs from 'node:fs';
import path from 'node:path';
import { run } from './processes.js';

const TMPFS_SIZE = '8G';

function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

// Mount points at or below dir, deepest first (the order to unmount them in).
export function mountsUnder(dir: string, mountsText = fs.readFileSync('/proc/mounts', 'utf8')): string[] {
  const root = path.resolve(dir);
  return mountsText
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter((field): field is string => field !== undefined)
    .map(unescapeMountPath)
    .filter((point) => point === root || point.startsWith(root + '/'))
    .sort((a, b) => b.length - a.length);
}

export function overlayMountArgv(lower: string, layerDir: string, target: string) {
  const options = `lowerdir=${lower},upperdir=${layerDir}/upper,workdir=${layerDir}/work`;
  return ['mount', '-t', 'overlay', 'rtcops-sandbox', '-o', options, target] as const;
}

export async function mountLayers(lower: string, layerDir: string, rootDir: string): Promise<void> {
  fs.mkdirSync(layerDir, { recursive: true });
  fs.mkdirSync(rootDir, { recursive: true });
  await run(['mount', '-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0755`, 'rtcops-sandbox', layerDir]);
  fs.mkdirSync(path.join(layerDir, 'upper'));
  fs.mkdirSync(path.join(layerDir, 'work'));
  await run(overlayMountArgv(lower, layerDir, rootDir));
}

// Unmounts everything below dir; a busy mount is detached lazily so nothing stays visible.
export async function unmountAll(dir: string): Promise<void> {
  for (const point of mountsUnder(dir)) {
    try {
      await run(['umount', point]);
    } catch {
      await run(['umount', '--lazy', point]);
    }
  }
}

// Deletes a directory tree only once nothing is mounted inside it (rm would otherwise cross into the mounts).
export async function removeTree(dir: string): Promise<void> {
  await unmountAll(dir);
  const left = mountsUnder(dir);
  if (left.length > 0) throw new Error(`still mounted, not deleting ${dir}: ${left.join(', ')}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

export function bytesUsed(dir: string): number | undefined {
  try {
    const stats = fs.statfsSync(dir);
    return (stats.blocks - stats.bfree) * stats.bsize;
  } catch {
    return undefined;
  }
}
