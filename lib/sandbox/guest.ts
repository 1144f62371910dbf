// The guest itself: the files that make one boot of the image this instance, systemd-nspawn under a supervisor, stopping it.
import fs from 'node:fs';
import path from 'node:path';
import { GUEST_UID, PROXY_PORT, type SandboxLayout } from './layout.js';
import {
  type Argv,
  containerProcesses,
  isAlive,
  processesMentioning,
  run,
  signalAll,
  spawnDetached,
  tail,
  terminate,
  waitForExit,
} from './processes.js';
import { type SshTarget, waitForSsh } from './ssh.js';

const BOOT_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 20_000;

// Restarts nspawn when the guest asks to reboot (exit 133) and forwards SIGTERM so the guest powers off cleanly.
const SUPERVISOR = `stop=0; child=
trap 'stop=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT HUP
while :; do
  "$@" & child=$!
  while :; do wait "$child"; rc=$?; kill -0 "$child" 2>/dev/null || break; done
  if [ "$stop" = 0 ] && [ "$rc" = 133 ]; then echo "rtcops-sandbox: guest rebooted, starting it again"; else exit "$rc"; fi
done`;

export function nspawnArgv(layout: SandboxLayout): Argv {
  return [
    'systemd-nspawn',
    '--boot',
    `--machine=${layout.name}`,
    `--directory=${layout.rootDir}`,
    `--network-bridge=${layout.bridge}`,
    // This machine's PID 1 may not be systemd: do not register with machined or create a scope unit.
    '--register=no',
    '--keep-unit',
    '--resolv-conf=off',
    '--timezone=off',
    '--link-journal=no',
    '--console=passive',
  ];
}

export function supervisorArgv(layout: SandboxLayout): Argv {
  return ['sh', '-c', SUPERVISOR, 'rtcops-sandbox', ...nspawnArgv(layout)];
}

export interface GuestFile {
  path: string;
  content: string;
  owner?: number;
  mode: number;
}

// Files that make one boot of the shared image this instance: name, address, apt proxy, operator key.
export function guestFiles(layout: SandboxLayout, publicKey: string): GuestFile[] {
  return [
    { path: 'etc/hostname', content: `${layout.name}\n`, mode: 0o644 },
    { path: 'etc/hosts', content: `127.0.0.1 localhost\n127.0.1.1 ${layout.name}\n::1 localhost ip6-localhost ip6-loopback\n`, mode: 0o644 },
    {
      path: 'etc/network/interfaces.d/host0',
      content: `auto host0\niface host0 inet static\n    address ${layout.address}/24\n`,
      mode: 0o644,
    },
    {
      path: 'etc/apt/apt.conf.d/01rtcops-sandbox-proxy',
      content: `Acquire::http::Proxy "http://${layout.hostAddress}:${PROXY_PORT}";\n`,
      mode: 0o644,
    },
    { path: `home/${layout.user}/.ssh/authorized_keys`, content: publicKey, owner: GUEST_UID, mode: 0o600 },
  ];
}

export function writeGuestFiles(layout: SandboxLayout, publicKey: string): void {
  for (const file of guestFiles(layout, publicKey)) {
    const target = path.join(layout.rootDir, file.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, file.content, { mode: file.mode });
    if (file.owner !== undefined) {
      fs.chownSync(path.dirname(target), file.owner, file.owner);
      fs.chmodSync(path.dirname(target), 0o700);
      fs.chownSync(target, file.owner, file.owner);
    }
  }
}

export async function ensureOperatorKey(layout: SandboxLayout): Promise<string> {
  if (!fs.existsSync(layout.keyPath)) {
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'rtcops-sandbox-operator', '-f', layout.keyPath]);
  }
  return fs.readFileSync(layout.keyPath + '.pub', 'utf8');
}

// Starts the supervised nspawn in the background and waits for an SSH login; `started` records its pid at once.
export async function bootGuest(
  layout: SandboxLayout,
  target: SshTarget,
  started: (guestPid: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  fs.writeFileSync(layout.guestLogPath, '');
  const guestPid = spawnDetached(supervisorArgv(layout), layout.guestLogPath);
  started(guestPid);
  await waitForSsh(target, {
    timeoutMs: BOOT_TIMEOUT_MS,
    guestAlive: () => isAlive(guestPid),
    guestLog: () => tail(layout.guestLogPath),
    ...(signal ? { signal } : {}),
  });
}

// Powers the guest off through nspawn; escalates to nspawn's immediate stop, then kills what is left of the container.
export async function stopGuest(layout: SandboxLayout, supervisorPid: number | undefined): Promise<boolean> {
  const supervisor = supervisorPid !== undefined && isAlive(supervisorPid) ? [supervisorPid] : [];
  const upper = path.join(layout.layerDir, 'upper');
  if (supervisor.length === 0 && containerProcesses(upper).length === 0) return false;
  signalAll(supervisor, 'SIGTERM');
  if (await waitForExit(supervisor, STOP_GRACE_MS)) return true;
  // A second SIGTERM makes nspawn terminate the container at once (a guest stuck in boot or shutdown).
  signalAll(processesMentioning(`--directory=${layout.rootDir}`), 'SIGTERM');
  if (await waitForExit(supervisor, 5_000)) return true;
  signalAll(containerProcesses(upper), 'SIGKILL');
  await terminate(supervisor, 5_000);
  return true;
}
