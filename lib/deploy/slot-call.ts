import { createServer, isIP, type AddressInfo, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { MediaProbeCheck, mediaProbeTargets, type MediaProbeOptions } from '../checks/media-probe.js';
import type { Outcome } from '../checks/result.js';
import type { ResolvedHost } from '../inventory/index.js';
import type { DeploySlot } from '../inventory/resolve.js';
import type { Runner } from '../runner/runner.js';
import { secs } from '../report/phases.js';
import { parseTurnUrl, turnUrls } from '../turn/url.js';
import { slotBridgeArgv } from './slots.js';

/**
 * The gate's real call, before nginx sends anyone to the new slot. It runs on the operator's machine, as a caller's
 * client: its media goes to the announced address and the slot's own media ports through the host's firewall (and
 * through coturn for the relayed paths), so a release whose media is not reachable from outside fails here. Only its
 * signaling goes over SSH (a byte pipe to the slot's 127.0.0.1 port, slotBridgeArgv), since nginx serves the live
 * slot alone. Its rooms and peers are `rtcops-deploy-…` (skipped by the drain like the daemon's `rtcops-health-…`).
 */

const PACKETS = 25;
const RTP_WAIT_MS = PACKETS * 20 + 1500;

export interface CallReach {
  jwtSecret: string;
  turnSecret: string;
  /** Where coturn is reached instead of resolving turn.domain (--probe-direct, the sandbox). */
  address?: string | undefined;
  /** Extra CA for coturn's TLS (a test ACME CA), PEM. */
  ca?: string | undefined;
}

/**
 * The call's options: direct, then relay-only through coturn over UDP and over TLS (TCP underneath: the path of
 * networks that block UDP). Plain TURN over TCP and TLS on 443 are left to check.mjs and the daemon: each path
 * costs a call (~1-2 s) in every gate.
 */
export function gateCallOptions(host: ResolvedHost, signalingUrl: string, r: CallReach): MediaProbeOptions {
  const t = host.turn;
  const turnAt = r.address ?? t.domain;
  const loopback = r.address !== undefined && isIP(r.address) === 4 && r.address.startsWith('127.');
  return {
    signalingUrl, jwtSecret: r.jwtSecret, turnSecret: r.turnSecret, ca: r.ca,
    packets: PACKETS, minReceivedPercent: 80, timeoutMs: 9000,
    relayUrls: turnUrls(turnAt, { ...t, tls443: false }).filter((u) => ['udp', 'tls'].includes(parseTurnUrl(u).transport)),
    relayServername: t.domain,
    ...(loopback ? { iceAddress: r.address } : {}),
    probeName: 'rtcops-deploy', stopAtFirstFailure: true,
  };
}

/** The paths the gate's call takes, in order: direct, relay:udp, relay:tls. */
export const gateCallPaths = (host: ResolvedHost): string[] => mediaProbeTargets(gateCallOptions(host, '', { jwtSecret: '', turnSecret: '' }));

/** What the calls say, as the gate reports it: the RTP counts of each path, or the first path that failed and why. */
export function callVerdict(slot: DeploySlot, paths: string[], outcomes: Outcome[]): { ok: boolean; detail: string } {
  const failed = outcomes.find((x) => x.status !== 'ok');
  const missing = paths.filter((p) => !outcomes.some((x) => x.target === p));
  if (failed === undefined && missing.length === 0) {
    return { ok: true, detail: outcomes.map((x) => `${x.target} ${String(x.values['packetsReceived'])}/${String(x.values['packetsSent'])} RTP`).join(', ') };
  }
  if (failed === undefined) return { ok: false, detail: `a call through slot ${slot.name} gave no result for ${missing.join(', ')}` };
  const v = failed.values;
  const why = v['packetsReceived'] === 0
    ? `ICE and DTLS connected in ${String(v['connectMs'])} ms but no RTP came back within ${secs(RTP_WAIT_MS)} (0 of ${String(v['packetsSent'])} packets)`
    : failed.message;
  const rest = missing.filter((p) => p !== failed.target);
  return { ok: false, detail: `a call through slot ${slot.name} failed on the ${failed.target} path: ${why}${rest.length > 0 ? ` (not tried: ${rest.join(', ')})` : ''}` };
}

/** A local port on 127.0.0.1 whose every connection is piped, over the runner, to 127.0.0.1:<port> on the host. */
export async function openSlotBridge(runner: Runner, host: ResolvedHost, port: number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const pipes = new Set<Promise<unknown>>();
  const server = createServer((sock) => {
    sockets.add(sock);
    const input = new PassThrough();
    sock.pipe(input);
    sock.on('error', () => undefined);
    sock.on('close', () => { sockets.delete(sock); input.end(); });
    const pipe = runner.exec(slotBridgeArgv(host, port), { root: true, allowFailure: true, stdin: input, onStdout: (c) => sock.write(c), summary: `signaling pipe to 127.0.0.1:${port}` })
      .catch(() => undefined)
      .finally(() => { sock.destroy(); pipes.delete(pipe); });
    pipes.add(pipe);
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => resolve()); });
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.close();
      for (const s of sockets) s.destroy();
      // Each pipe ends once its stdin does; never let a stuck one hold the gate.
      await Promise.race([Promise.allSettled([...pipes]), new Promise((r) => setTimeout(r, 3000).unref())]);
    },
  };
}

/** The call through one slot: its signaling over the runner, its media from here (in a worker thread, terminated after). */
export async function callThroughSlot(runner: Runner, host: ResolvedHost, slot: DeploySlot, reach: CallReach): Promise<Outcome[]> {
  const bridge = await openSlotBridge(runner, host, slot.port);
  try {
    const o = gateCallOptions(host, `ws://127.0.0.1:${bridge.port}/signaling`, reach);
    return await new MediaProbeCheck(o).run(AbortSignal.timeout(60_000));
  } finally {
    await bridge.close();
  }
}
