// Which ICE settings force each path, and what the selected candidate pair must show for the path to count.
import type { types } from 'mediasoup-client';
import { TEST_PATHS } from '../../lib/connection-test/role.js';

// The server validates reports against the same list.
export const PATHS = TEST_PATHS;
export type PathName = (typeof PATHS)[number];

export const LABELS: Record<PathName | 'signaling', string> = {
  signaling: 'Signaling',
  udp: 'Direct UDP',
  tcp: 'Direct TCP',
  'turn-udp': 'TURN over UDP',
  'turn-tcp': 'TURN over TCP',
  'turn-tls': 'TURN over TLS',
};

export interface TurnCredentials { username: string; password: string; uris: string[] }

export interface PathSettings {
  forceTcp?: boolean;
  candidateFilter?: (c: types.IceCandidate) => boolean;
  iceServers?: RTCIceServer[];
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** The TURN URL this path uses, for the messages. */
  turnUrl?: string;
}

/** The TURN URL of a path: turn:...?transport=udp, turn:...?transport=tcp, turns:...; the 443 one first for TLS. */
export function turnUrlFor(path: PathName, uris: string[]): string | undefined {
  const parsed = uris.map((u) => ({ u, tls: u.startsWith('turns:'), transport: /[?&]transport=(\w+)/.exec(u)?.[1] ?? 'udp', port: /:(\d+)(\?|$)/.exec(u)?.[1] }));
  if (path === 'turn-udp') return parsed.find((p) => !p.tls && p.transport === 'udp')?.u;
  if (path === 'turn-tcp') return parsed.find((p) => !p.tls && p.transport === 'tcp')?.u;
  if (path === 'turn-tls') return (parsed.find((p) => p.tls && p.port === '443') ?? parsed.find((p) => p.tls))?.u;
  return undefined;
}

/** undefined: the server offers nothing for this path (no TURN URL of that kind). */
export function settingsFor(path: PathName, turn: TurnCredentials | undefined): PathSettings | undefined {
  if (path === 'udp') return { candidateFilter: (c) => c.protocol === 'udp', iceServers: [] };
  if (path === 'tcp') return { forceTcp: true, iceServers: [] };
  const url = turn === undefined ? undefined : turnUrlFor(path, turn.uris);
  if (url === undefined || turn === undefined) return undefined;
  return { iceServers: [{ urls: [url], username: turn.username, credential: turn.password }], iceTransportPolicy: 'relay', turnUrl: url };
}

export interface SelectedPair { localType?: string; relayProtocol?: string; remoteProtocol?: string; rttMs?: number }

/** The selected candidate pair of a transport's stats. */
export function selectedPair(report: RTCStatsReport): SelectedPair | undefined {
  let pairId: string | undefined;
  report.forEach((s: { type: string; selectedCandidatePairId?: string }) => { if (s.type === 'transport' && s.selectedCandidatePairId !== undefined) pairId = s.selectedCandidatePairId; });
  let pair: { localCandidateId?: string; remoteCandidateId?: string; currentRoundTripTime?: number; state?: string; nominated?: boolean } | undefined;
  report.forEach((s: { type: string; id: string; state?: string; nominated?: boolean }) => {
    if (s.type === 'candidate-pair' && (s.id === pairId || (pairId === undefined && s.state === 'succeeded' && s.nominated === true))) pair = s as typeof pair;
  });
  if (pair === undefined) return undefined;
  const local = report.get(pair.localCandidateId ?? '') as { candidateType?: string; relayProtocol?: string } | undefined;
  const remote = report.get(pair.remoteCandidateId ?? '') as { protocol?: string } | undefined;
  return {
    ...(local?.candidateType !== undefined ? { localType: local.candidateType } : {}),
    ...(local?.relayProtocol !== undefined ? { relayProtocol: local.relayProtocol } : {}),
    ...(remote?.protocol !== undefined ? { remoteProtocol: remote.protocol } : {}),
    ...(pair.currentRoundTripTime !== undefined ? { rttMs: pair.currentRoundTripTime * 1000 } : {}),
  };
}

/** Why the selected pair is not the path under test; undefined when it is. */
export function wrongPath(path: PathName, p: SelectedPair): string | undefined {
  const relayed = p.localType === 'relay';
  switch (path) {
    case 'udp': return !relayed && p.remoteProtocol === 'udp' ? undefined : `connected over ${describe(p)}, not direct UDP`;
    case 'tcp': return !relayed && p.remoteProtocol === 'tcp' ? undefined : `connected over ${describe(p)}, not direct TCP`;
    case 'turn-udp': return relayed && p.relayProtocol === 'udp' ? undefined : `connected over ${describe(p)}, not TURN over UDP`;
    case 'turn-tcp': return relayed && p.relayProtocol === 'tcp' ? undefined : `connected over ${describe(p)}, not TURN over TCP`;
    case 'turn-tls': return relayed && p.relayProtocol === 'tls' ? undefined : `connected over ${describe(p)}, not TURN over TLS`;
  }
}

function describe(p: SelectedPair): string {
  return p.localType === 'relay' ? `TURN (${p.relayProtocol ?? '?'})` : `a direct ${p.remoteProtocol ?? '?'} path`;
}

/** What to tell a person when a path did not connect. */
export function whyNot(path: PathName, settings: PathSettings): string {
  switch (path) {
    case 'udp': return 'No UDP path to the media server: this network (or a firewall in front of the server) blocks UDP to its media ports. Calls can still work over TCP or TURN if those pass.';
    case 'tcp': return 'No TCP path to the media server\'s ports: this network blocks outgoing TCP to them, or the server\'s firewall does not open them.';
    case 'turn-udp': return `Could not relay through TURN over UDP (${settings.turnUrl ?? ''}): UDP to the TURN port is blocked here, or the TURN server is down.`;
    case 'turn-tcp': return `Could not relay through TURN over TCP (${settings.turnUrl ?? ''}): TCP to the TURN port is blocked here, or the TURN server is down.`;
    case 'turn-tls': return `Could not relay through TURN over TLS (${settings.turnUrl ?? ''}): the port is blocked, the certificate was refused, or the TURN server is down.`;
  }
}
