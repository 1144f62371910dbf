import { BlockList, isIPv4 } from 'node:net';
import { STATE_DIR } from '../host/index.js';
import type { ResolvedHost } from '../inventory/index.js';
import { AuthError, HostKeyMismatchError, RemoteError } from '../runner/errors.js';
import { sh } from '../runner/quote.js';
import type { Connect, Runner } from '../runner/runner.js';

/** How long the host waits for rtcops to confirm it can still log in before it reverts by itself. */
export const REVERT_AFTER_SEC = 90;

/** Refuse before changing anything when the admin CIDRs (the only SSH sources the firewall allows) exclude us. */
export function assertAdminAccess(host: ResolvedHost, clientIp: string): void {
  const allowed = new BlockList();
  for (const cidr of host.adminCidrs) {
    const [net, bits] = cidr.split('/');
    allowed.addSubnet(net ?? '', Number(bits), isIPv4(net ?? '') ? 'ipv4' : 'ipv6');
  }
  const ip = clientIp.replace(/^::ffff:/, '');
  if (ip === '' || !allowed.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6')) {
    throw new RemoteError(host.name, `refusing to apply SSH, firewall or fail2ban changes: this run connects from ${ip || 'an unknown address'}, which is outside adminCidrs (${host.adminCidrs.join(', ')}) — the new firewall would lock you out, and fail2ban could ban you`,
      `add your address to hosts.${host.name}.adminCidrs (or its group's), then run again`);
  }
}

/**
 * Applies a change that could cut SSH access: arms a revert on the host (a systemd timer), applies, proves that a
 * NEW connection with the inventory's key still works, then disarms. If the new connection fails, it reverts at
 * once over the old connection; if that is gone too, the timer reverts on its own.
 */
export async function withAccessGuard(opts: {
  target: Runner;
  reconnect: Connect;
  unit: string;
  revertScript: string;
  apply: () => Promise<void>;
}): Promise<void> {
  const { target, unit } = opts;
  const revertFile = `${STATE_DIR}/${unit}.sh`;
  const units = [`${unit}.timer`, `${unit}.service`];
  await target.script([
    sh`mkdir -p ${STATE_DIR}`,
    // The revert script goes in verbatim: a quoted heredoc, so nothing in it is expanded.
    sh`cat > ${revertFile} <<'RTCOPS_EOF'` + `\n${opts.revertScript}\nRTCOPS_EOF`,
    sh`systemctl stop ${units} 2>/dev/null || true`,
    sh`systemctl reset-failed ${units} 2>/dev/null || true`,
    sh`systemd-run --quiet --unit=${unit} --on-active=${REVERT_AFTER_SEC} /bin/sh ${revertFile}`,
  ].join('\n'), { root: true, summary: 'arm the automatic revert' });
  const disarm = () => target.script(sh`systemctl stop ${`${unit}.timer`} 2>/dev/null || true` + '\n' + sh`rm -f ${revertFile}`, { root: true, summary: 'disarm the automatic revert' });
  try {
    await opts.apply();
  } catch (err) {
    await target.script(sh`sh ${revertFile}`, { root: true, summary: 'revert', allowFailure: true });
    await disarm();
    throw err;
  }
  try {
    await proveNewConnection(opts.reconnect);
  } catch (err) {
    const reverted = await target.script(sh`sh ${revertFile}`, { root: true, summary: 'revert', allowFailure: true }).then((r) => r.code === 0, () => false);
    if (reverted) await disarm().catch(() => undefined);
    throw new RemoteError(target.name, `a new SSH connection failed after the change (${(err as Error).message}); ${reverted ? 'it was reverted' : `the host reverts by itself within ${REVERT_AFTER_SEC}s`}`,
      'nothing else was changed; check the sshd drop-in / firewall plan in the inventory');
  }
  await disarm();
}

/** sshd re-executes itself on reload and refuses connections for a moment: retry briefly before calling it a lockout. */
async function proveNewConnection(reconnect: Connect): Promise<void> {
  let last: unknown;
  for (const waitMs of [0, 250, 500, 1000, 2000, 3000]) {
    await new Promise((r) => setTimeout(r, waitMs));
    try {
      const probe = await reconnect();
      try {
        await probe.exec(['true'], { summary: 'a command over the new connection' });
        return;
      } finally {
        probe.close();
      }
    } catch (err) {
      last = err;
      if (err instanceof HostKeyMismatchError || err instanceof AuthError) break;
    }
  }
  throw last;
}

export function revertUnitName(step: string): string {
  return `rtcops-revert-${step}`;
}

