import type { TurnTransport } from './client.js';

export interface TurnUrl {
  url: string;
  transport: TurnTransport;
  host: string;
  port: number;
}

/** A turn:/turns: URL the way WebRTC stacks read it (RFC 7065): turns: is TLS, ?transport=tcp is TCP, else UDP. */
export function parseTurnUrl(url: string): TurnUrl {
  const m = /^(turns?):(\[[^\]]+\]|[^:?[\]]+)(?::(\d+))?(?:\?transport=(udp|tcp))?$/.exec(url);
  if (m === null) throw new Error(`${url} is not a turn: or turns: URL (turn:<host>[:<port>][?transport=udp|tcp])`);
  const [, scheme, host = '', port, transport] = m;
  if (scheme === 'turns' && transport === 'udp') throw new Error(`${url}: turns: runs over TLS, never UDP`);
  return { url, transport: scheme === 'turns' ? 'tls' : ((transport ?? 'udp') as TurnTransport), host: host.replace(/^\[|\]$/g, ''), port: Number(port ?? (scheme === 'turns' ? 5349 : 3478)) };
}

/** How checks name a relay path: its transport, and tls-443 for TURN over TLS on 443 (nginx's router, turn.tls443). */
export function turnPathName(u: Pick<TurnUrl, 'transport' | 'port'>): string {
  return u.transport === 'tls' && u.port === 443 ? 'tls-443' : u.transport;
}

/**
 * The TURN URLs a host offers, in the order clients try them: UDP and TCP on turn.port, TLS on turn.tlsPort, and TLS
 * on 443 through nginx's router when it is on. One list for /turn-credentials, the daemon's probes and check.mjs.
 * An IPv6 literal is bracketed (RFC 7065).
 */
export function turnUrls(host: string, t: { port: number; tlsPort: number; tls443: boolean }): string[] {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return [
    `turn:${h}:${t.port}?transport=udp`,
    `turn:${h}:${t.port}?transport=tcp`,
    `turns:${h}:${t.tlsPort}?transport=tcp`,
    ...(t.tls443 ? [`turns:${h}:443?transport=tcp`] : []),
  ];
}
