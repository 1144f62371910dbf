import { randomBytes } from 'node:crypto';
import { TurnClient, TurnError } from '../turn/client.js';
import { mintTurnCredentials } from '../turn/credentials.js';
import { Class, encode, Method } from '../turn/stun-message.js';
import type { Check, Outcome } from './result.js';

/** Peers coturn must never grant a relay permission for, and what each stands for (named in the message). */
export const REFUSED_PEERS: readonly (readonly [ip: string, what: string])[] = [
  ['127.0.0.1', 'loopback'], ['0.0.0.0', 'this host (unspecified)'],
  ['10.0.0.1', 'private 10/8'], ['172.16.0.1', 'private 172.16/12'], ['192.168.0.1', 'private 192.168/16'], ['100.64.0.1', 'CGNAT 100.64/10'],
  ['169.254.169.254', 'link-local, cloud metadata'],
  ['::1', 'IPv6 loopback'], ['::ffff:127.0.0.1', 'IPv4-mapped loopback'], ['::ffff:169.254.169.254', 'IPv4-mapped cloud metadata'],
  ['fe80::1', 'IPv6 link-local'], ['fd00:ec2::254', 'IPv6 unique local, cloud metadata'],
];

export interface TurnPeersCheckOptions {
  /** coturn's address as this side reaches it. */
  host: string;
  /** turn.port (UDP): the allocation, and the own-host port probed through the relay (coturn answers STUN there). */
  port: number;
  /** coturn's static-auth-secret (TURN_SECRET). */
  secret: string;
  /** The host's own address (the announced IP): a relay may reach its media ports only. */
  ownIp: string;
  requestTimeoutMs: number;
}

/**
 * From a UDP allocation, as any caller with TURN credentials: a permission for each of REFUSED_PEERS must be refused,
 * and a STUN Binding request relayed to the host's own address on turn.port (coturn itself, not a media port) must get
 * no answer (the relay guard drops it). Any peer granted, or an answer, is critical and named: a coturn upgrade or a
 * hand edit of turnserver.conf or the nftables guard undid it.
 */
export class TurnPeersCheck implements Check {
  readonly name = 'turn-peers';
  readonly targets = ['udp'];

  constructor(private readonly o: TurnPeersCheckOptions) {}

  async run(): Promise<Outcome[]> {
    const o = this.o;
    const where = `UDP ${o.host}:${o.port}`;
    const result = (status: Outcome['status'], message: string, values: Outcome['values'] = {}): Outcome[] => [{ check: this.name, target: 'udp', status, message, values }];
    let client: TurnClient;
    try {
      client = await TurnClient.connect({ transport: 'udp', host: o.host, port: o.port, timeoutMs: o.requestTimeoutMs });
    } catch (error) {
      return result('critical', `cannot reach coturn over ${where} to prove its refusals (${(error as Error).message})`);
    }
    try {
      const creds = mintTurnCredentials(o.secret, 'rtcops-health-peers', 300);
      try {
        await client.allocate(creds.username, creds.password);
      } catch (error) {
        return result('critical', `cannot allocate over ${where} to prove its refusals (${(error as Error).message})`);
      }
      const granted: string[] = [];
      const unproven: string[] = [];
      for (const [ip, what] of REFUSED_PEERS) {
        await client.createPermission(ip).then(
          () => granted.push(`${ip} (${what})`),
          (error: unknown) => { if (!(error instanceof TurnError)) unproven.push(`${ip}: ${(error as Error).message}`); },
        );
      }
      const own = `${o.ownIp}:${o.port}`;
      let ownReached = false;
      const ownAllowed = await client.createPermission(o.ownIp).then(() => true, () => false);
      if (ownAllowed) {
        client.send({ ip: o.ownIp, port: o.port }, encode({ method: Method.Binding, cls: Class.request, transactionId: randomBytes(12), attributes: [] }));
        ownReached = await client.nextData(o.requestTimeoutMs).then(() => true, () => false);
      }
      const problems = [
        ...(granted.length > 0 ? [`coturn grants relays to ${granted.join(', ')}: denied-peer-ip in /etc/turnserver.conf no longer covers them`] : []),
        ...(ownReached ? [`a relay to the host's own address reaches ${own}/udp (coturn itself, not a media port) and it answered: the relay guard is not loaded (nft list table inet <app>_turn_relay_guard)`] : []),
      ];
      const values = { peersTried: REFUSED_PEERS.length, peersGranted: granted.length, ownHostReached: ownReached };
      if (problems.length > 0) return result('critical', `over ${where}: ${problems.join('; ')}`, values);
      if (unproven.length > 0) return result('critical', `over ${where}: no answer to CreatePermission for ${unproven.join('; ')}: the refusals are not proven`, values);
      return result('ok', `over ${where}: ${REFUSED_PEERS.length} private, loopback, link-local and IPv4-mapped peers refused; ${ownAllowed ? `a relay to ${own}/udp got no answer` : `a permission for ${o.ownIp} refused`}`, values);
    } finally {
      await client.close();
    }
  }
}
