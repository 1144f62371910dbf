// The cached Debian root filesystem each sandbox boots from (one per release), and the apt proxy unpacked beside it.
import fs from 'node:fs';
import path from 'node:path';
import { GUEST_UID, GUEST_USER, type SandboxLayout } from './layout.js';
import { type Argv, run } from './processes.js';
import { removeTree } from './mounts.js';
import type { Progress } from './progress.js';
import { SandboxFailure } from './errors.js';
import { mirrorsOf, RELEASES } from './releases.js';

const PACKAGES = ['systemd-sysv', 'dbus', 'openssh-server', 'sudo', 'ifupdown', 'iproute2', 'ca-certificates', 'python3'];
// apt-cacher-ng runs on the host from its unpacked .debs; apt in the new root picks it and the libraries the root lacks.
const PROXY_PACKAGE = 'apt-cacher-ng';
// Timers that grab the dpkg lock under a test, and units that can only fail in a container.
export const MASKED_UNITS = [
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'man-db.timer',
  'dpkg-db-backup.timer',
  'e2scrub_all.timer',
  'fstrim.timer',
  'nvmf-autoconnect.service',
  'openipmi.service',
];
// Bump when the build recipe changes: a cached image with another version is rebuilt.
const IMAGE_VERSION = 2;
const STAMP = '.rtcops-image.json';
// mmdebstrap's own phase lines, shown as progress (hook and detail lines go only to a failure's output).
const MMDEBSTRAP_PHASE = /^I: (running apt-get update|downloading|extracting|installing|cleaning|success)/;

export interface ImageStamp {
  version: number;
  builtAt: string;
  buildSeconds: number;
  bytes: number;
}

// Runs inside mmdebstrap's customize phase with the new root as $1: makes it look like a fresh cloud VM.
export function configureScript(): string {
  return `set -eu
root="$1"
chroot "$root" useradd --create-home --uid ${GUEST_UID} --shell /bin/bash --groups sudo ${GUEST_USER}
echo '${GUEST_USER} ALL=(ALL) NOPASSWD:ALL' > "$root/etc/sudoers.d/${GUEST_USER}"
chmod 0440 "$root/etc/sudoers.d/${GUEST_USER}"
for unit in ${MASKED_UNITS.join(' ')}; do ln -sf /dev/null "$root/etc/systemd/system/$unit"; done
printf 'auto lo\\niface lo inet loopback\\n\\nsource /etc/network/interfaces.d/*\\n' > "$root/etc/network/interfaces"
echo debian > "$root/etc/hostname"
mkdir -p "$root/tmp/rtcops-proxy-debs/partial"
chroot "$root" apt-get install -q -y --download-only --no-install-recommends -o Dir::Cache::archives=/tmp/rtcops-proxy-debs ${PROXY_PACKAGE}
rm -rf "$root/tmp/rtcops-proxy-debs/partial" "$root/tmp/rtcops-proxy-debs/lock"
`;
}

export function mmdebstrapArgv(layout: SandboxLayout, scriptPath: string): Argv {
  return [
    'mmdebstrap',
    '--variant=important',
    '--mode=root',
    '--format=directory',
    `--include=${PACKAGES.join(',')}`,
    '--aptopt=Acquire::Retries "3"',
    '--setup-hook=mkdir -p "$1/var/cache/apt/archives"',
    `--setup-hook=sync-in ${layout.debCacheDir} /var/cache/apt/archives/`,
    `--customize-hook=sync-out /var/cache/apt/archives ${layout.debCacheDir}`,
    `--customize-hook=sh ${scriptPath} "$1"`,
    `--customize-hook=sync-out /tmp/rtcops-proxy-debs ${layout.proxyDebsDir}`,
    // The build host's resolver means nothing in the guest, which has no DNS.
    '--customize-hook=rm -rf "$1/tmp/rtcops-proxy-debs" && : > "$1/etc/resolv.conf"',
    RELEASES[layout.os].suite,
    layout.imageBuildDir,
    ...mirrorsOf(RELEASES[layout.os]),
  ];
}

export function readStamp(layout: SandboxLayout): ImageStamp | undefined {
  try {
    const stamp = JSON.parse(fs.readFileSync(path.join(layout.imageDir, STAMP), 'utf8')) as ImageStamp;
    return stamp.version === IMAGE_VERSION && fs.existsSync(proxyBinary(layout)) ? stamp : undefined;
  } catch {
    return undefined;
  }
}

export function proxyBinary(layout: SandboxLayout): string {
  return path.join(layout.proxyRootDir, 'usr', 'sbin', 'apt-cacher-ng');
}

// Builds the image unless a current one is cached; returns its stamp and whether it was built now.
export async function ensureImage(
  layout: SandboxLayout,
  progress: Progress,
  signal?: AbortSignal,
): Promise<{ stamp: ImageStamp; built: boolean }> {
  const cached = readStamp(layout);
  if (cached) return { stamp: cached, built: false };
  const t0 = Date.now();
  progress.note(`no cached image in ${layout.imageDir}: building ${RELEASES[layout.os].label} with mmdebstrap, about 1.5 minutes`);
  await removeTree(layout.imageBuildDir);
  fs.mkdirSync(layout.debCacheDir, { recursive: true });
  fs.rmSync(layout.proxyDebsDir, { recursive: true, force: true });
  fs.mkdirSync(layout.proxyDebsDir, { recursive: true });
  const scriptPath = `${layout.imageBuildDir}.configure.sh`;
  fs.writeFileSync(scriptPath, configureScript());
  try {
    const logPath = `${layout.imageDir}.build.log`;
    fs.writeFileSync(logPath, '');
    progress.note(`full output in ${logPath}`);
    await progress.step('image: mmdebstrap (download, unpack, configure)', async () => {
      await run(mmdebstrapArgv(layout, scriptPath), {
        processGroup: true,
        ...(signal ? { signal } : {}),
        onLine: (line) => {
          fs.appendFileSync(logPath, line + '\n');
          if (MMDEBSTRAP_PHASE.test(line)) progress.note(line.slice(3));
        },
      });
    });
    await progress.step('image: unpack apt-cacher-ng', () => unpackProxy(layout));
    const bytes = Number((await run(['du', '-sb', layout.imageBuildDir])).split('\t')[0]);
    const stamp: ImageStamp = {
      version: IMAGE_VERSION,
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - t0) / 100) / 10,
      bytes,
    };
    fs.writeFileSync(path.join(layout.imageBuildDir, STAMP), JSON.stringify(stamp, null, 2) + '\n');
    await removeTree(layout.imageDir);
    fs.renameSync(layout.imageBuildDir, layout.imageDir);
    return { stamp, built: true };
  } catch (error) {
    await removeTree(layout.imageBuildDir);
    throw error;
  }
}

async function unpackProxy(layout: SandboxLayout): Promise<void> {
  fs.rmSync(layout.proxyRootDir, { recursive: true, force: true });
  fs.mkdirSync(layout.proxyRootDir, { recursive: true });
  const debs = fs.readdirSync(layout.proxyDebsDir).filter((f) => f.endsWith('.deb'));
  if (!debs.some((f) => f.startsWith(`${PROXY_PACKAGE}_`))) {
    throw new SandboxFailure(`apt did not download ${PROXY_PACKAGE} into ${layout.proxyDebsDir} (found: ${debs.join(' ') || 'nothing'})`);
  }
  for (const deb of debs) await run(['dpkg-deb', '-x', path.join(layout.proxyDebsDir, deb), layout.proxyRootDir]);
}

// The guest's SSH host keys as "type base64" lines; every instance of the image shares them.
export function hostKeys(layout: SandboxLayout): string[] {
  const sshDir = path.join(layout.imageDir, 'etc', 'ssh');
  return fs
    .readdirSync(sshDir)
    .filter((f) => /^ssh_host_.*_key\.pub$/.test(f))
    .sort()
    .map((f) => fs.readFileSync(path.join(sshDir, f), 'utf8').trim().split(/\s+/).slice(0, 2).join(' '));
}
