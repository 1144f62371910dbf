import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { TurnClient, TurnError, TurnTransportError, type TurnTransport } from '../turn/client.js';
import { mintTurnCredentials } from '../turn/credentials.js';
import type { SecureContext } from 'node:tls';
import type { Check, Outcome, Value } from './result.js';
import { trustContext } from './tls-context.js';

export interface TurnCheckOptions {
  /** coturn's address as the daemon reaches it. */
  host: string;
  /** TLS SNI name (turn.domain). */
  servername: string;
  port: number;
  tlsPort: number;
  transports: TurnTransport[];
  /** Also TURN over TLS on 443, through nginx's router (turn.tls443): target tls-443. */
  tls443?: boolean | undefined;
  /** coturn's static-auth-secret (TURN_SECRET). */
  secret: string;
  caFile?: string | undefined;
  requestTimeoutMs: number;
  /** Where the relay sends the probe's data: an address of this host coturn may relay to (announced IP in production); absent: no relayed round trip. */
  peerIp?: string | undefined;
  /** Where the daemon's echo peer listens. */
  peerBindIp: string;
  /** Its UDP port (0: any free one). On a host the relay guard lets a relay reach only this one besides the media ports. */
  peerPort?: number | undefined;
  /** A private address coturn must refuse to relay to (403). */
  privatePeerIp: string;
  rttWarnMs: number;
  /** Public-IP drift: the IP mediasoup announces, coturn's external-ip, and the TURN DNS name, when known. */
  announcedIp?: string | undefined;
  externalIp?: string | undefined;
  dnsName?: string | undefined;
}

/**
 * Where the echo peer binds. With the wildcard default and a peer IP that is one of this machine's addresses, bind
 * to that address: coturn may relay from 127.0.0.1 (it picks the relay address of the interface the daemon came
 * in on), and a reply from a wildcard socket would then leave from 127.0.0.1, an address coturn has no permission
 * for, and be dropped. Bound to the peer IP, the reply comes from the address the permission names.
 */
export function peerBindAddress(bindIp: string, peerIp: string, interfaces = networkInterfaces()): string {
  if (bindIp !== '0.0.0.0' && bindIp !== '::') return bindIp;
  const local = Object.values(interfaces).flat().some((i) => i?.address === peerIp);
  return local ? peerIp : bindIp;
}

/**
 * A UDP socket that sends every datagram back where it came from: the far end of the relay. reuseAddr: a second run
 * at the same moment (`--once` beside the running daemon) binds the same fixed port, and either socket echoes right.
 */
async function echoPeer(bindIp: string, port: number): Promise<Socket> {
  const peer = createSocket({ type: bindIp.includes(':') ? 'udp6' : 'udp4', reuseAddr: true });
  peer.on('message', (msg, rinfo) => peer.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((resolve, reject) => {
    peer.once('error', reject);
    peer.bind(port, bindIp, () => { peer.off('error', reject); resolve(); });
  });
  peer.on('error', () => undefined);
  return peer;
}

interface Probe {
  status: 'ok' | 'warn' | 'critical';
  message: string;
  values: Record<string, Value>;
  relayedIp?: string;
}

/** STUN Binding, authenticated Allocate, CreatePermission, a data round trip via the relay, and a refused private peer. */
export class TurnCheck implements Check {
  readonly name = 'turn';
  readonly targets: string[];
  private context: SecureContext | undefined;

  constructor(private readonly o: TurnCheckOptions) {
    this.targets = [...this.paths().map((p) => p.target), ...(o.announcedIp === undefined ? [] : ['public-ip'])];
  }

  /** Each transport on its own port; with tls443, TLS once more on 443 (nginx's router passes it to coturn by SNI). */
  private paths(): { target: string; transport: TurnTransport; port: number }[] {
    const o = this.o;
    const paths = o.transports.map((transport) => ({ target: transport as string, transport, port: transport === 'tls' ? o.tlsPort : o.port }));
    if (o.tls443 === true) paths.push({ target: 'tls-443', transport: 'tls', port: 443 });
    return paths;
  }

  private async probe(transport: TurnTransport, port: number, peerPort: number | undefined, secureContext: SecureContext | undefined): Promise<Probe> {
    const o = this.o;
    const where = `${transport.toUpperCase()} ${o.host}:${port}`;
    const values: Record<string, Value> = {};
    let client: TurnClient;
    try {
      client = await TurnClient.connect({ transport, host: o.host, port, servername: o.servername, secureContext, timeoutMs: o.requestTimeoutMs });
    } catch (error) {
      return { status: 'critical', message: `cannot connect to coturn over ${where} (${(error as Error).message}): is coturn running and the port open?`, values };
    }
    let step = 'STUN Binding';
    try {
      const b = await client.binding();
      values['rttMs'] = b.rttMs;
      values['mappedIp'] = b.mapped.ip;
      step = 'Allocate';
      const creds = mintTurnCredentials(o.secret, 'rtcops-health', 300);
      const t0 = performance.now();
      const a = await client.allocate(creds.username, creds.password);
      values['allocateMs'] = Math.round(performance.now() - t0);
      values['relayedIp'] = a.relayed.ip;
      if (o.peerIp !== undefined && peerPort !== undefined) {
        step = `CreatePermission for the daemon's peer ${o.peerIp}`;
        await client.createPermission(o.peerIp);
        step = 'the data round trip through the relay';
        const payload = randomBytes(16);
        const t1 = performance.now();
        client.send({ ip: o.peerIp, port: peerPort }, payload);
        const back = await client.nextData(o.requestTimeoutMs);
        if (!back.data.equals(payload)) return { status: 'critical', message: `data through the relay over ${where} came back altered`, values };
        values['relayRoundTripMs'] = Math.round((performance.now() - t1) * 10) / 10;
      }
      step = `CreatePermission for the private address ${o.privatePeerIp}`;
      try {
        await client.createPermission(o.privatePeerIp);
        return { status: 'critical', message: `coturn relays to the private address ${o.privatePeerIp} over ${where}: add denied-peer-ip ranges for private networks (an open relay into the VM's network)`, values, relayedIp: a.relayed.ip };
      } catch (error) {
        if (!(error instanceof TurnError && error.code === 403)) throw error;
      }
      const slow = b.rttMs > o.rttWarnMs;
      return {
        status: slow ? 'warn' : 'ok',
        message: slow ? `STUN round trip over ${where} took ${b.rttMs} ms (warning above ${o.rttWarnMs} ms)` : `TURN over ${where}: allocated, ${values['relayRoundTripMs'] === undefined ? 'no relay peer configured' : `relayed data in ${String(values['relayRoundTripMs'])} ms`}, private peers refused`,
        values,
        relayedIp: a.relayed.ip,
      };
    } catch (error) {
      if (error instanceof TurnTransportError && step === 'STUN Binding') return { status: 'critical', message: `coturn does not answer STUN over ${where} within ${o.requestTimeoutMs} ms: is coturn running and the port open?`, values };
      if (error instanceof TurnError && error.code === 401) return { status: 'critical', message: `coturn rejected the credentials over ${where} (401): TURN_SECRET does not match coturn's static-auth-secret`, values };
      if (error instanceof TurnError && error.code === 403 && step.startsWith('CreatePermission for the daemon')) return { status: 'critical', message: `coturn refuses to relay to ${o.peerIp} over ${where} (403): allowed-peer-ip must include the server's announced IP`, values };
      return { status: 'critical', message: `${step} over ${where} failed: ${(error as Error).message}`, values };
    } finally {
      await client.close();
    }
  }

  private async drift(relayedIp: string | undefined): Promise<Outcome> {
    const o = this.o;
    const values: Record<string, Value> = { announcedIp: o.announcedIp ?? null, externalIp: o.externalIp ?? null, relayedIp: relayedIp ?? null, dnsIps: null };
    const problems: string[] = [];
    if (o.externalIp !== undefined && o.externalIp !== o.announcedIp) problems.push(`coturn's external-ip ${o.externalIp} differs from the announced IP ${String(o.announcedIp)}`);
    const advertised = o.externalIp ?? o.announcedIp;
    if (relayedIp !== undefined && advertised !== undefined && relayedIp !== advertised) problems.push(`coturn hands out relay address ${relayedIp}, not ${advertised}`);
    if (o.dnsName !== undefined) {
      try {
        const ips = (await lookup(o.dnsName, { all: true })).map((a) => a.address);
        values['dnsIps'] = ips.join(',');
        if (o.announcedIp !== undefined && !ips.includes(o.announcedIp)) problems.push(`${o.dnsName} resolves to ${ips.join(', ')}, not the announced IP ${o.announcedIp}`);
      } catch (error) {
        problems.push(`${o.dnsName} does not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
    }
    return {
      check: this.name, target: 'public-ip', values,
      status: problems.length > 0 ? 'critical' : 'ok',
      message: problems.length > 0 ? `public IP drift: ${problems.join('; ')}` : `public IP consistent: ${String(o.announcedIp)}`,
    };
  }

  async run(): Promise<Outcome[]> {
    const paths = this.paths();
    if (paths.some((p) => p.transport === 'tls')) this.context ??= trustContext(this.o.caFile);
    let peer: Socket | undefined;
    if (this.o.peerIp !== undefined) {
      const bindIp = peerBindAddress(this.o.peerBindIp, this.o.peerIp);
      try {
        peer = await echoPeer(bindIp, this.o.peerPort ?? 0);
      } catch (error) {
        const message = `cannot bind the echo peer of the relayed round trip to ${bindIp}:${this.o.peerPort ?? 0}/udp: ${(error as Error).message}`;
        const results: Outcome[] = paths.map((p) => ({ check: this.name, target: p.target, status: 'critical', message, values: {} }));
        if (this.o.announcedIp !== undefined) results.push(await this.drift(undefined));
        return results;
      }
    }
    try {
      const peerPort = peer?.address().port;
      const probes = await Promise.all(paths.map(async (p) => [p.target, await this.probe(p.transport, p.port, peerPort, this.context)] as const));
      const results: Outcome[] = probes.map(([t, p]) => ({ check: this.name, target: t, status: p.status, message: p.message, values: p.values }));
      if (this.o.announcedIp !== undefined) results.push(await this.drift(probes.find(([, p]) => p.relayedIp !== undefined)?.[1].relayedIp));
      return results;
    } finally {
      peer?.close();
    }
  }
}
