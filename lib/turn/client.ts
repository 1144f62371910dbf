import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type SecureContext } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { Attr, Class, Method, attr, decode, decodeXorAddress, encode, encodeXorAddress, errorCode, isStun, longTermKey, messageLength, u32, verifyIntegrity, type Address, type StunMessage } from './stun-message.js';

export type TurnTransport = 'udp' | 'tcp' | 'tls';

export interface TurnClientOptions {
  transport: TurnTransport;
  host: string;
  port: number;
  /** TLS: SNI name and the name the certificate must cover. */
  servername?: string | undefined;
  /** TLS: the context to verify with (trusted CAs); default Node's CAs. */
  secureContext?: SecureContext | undefined;
  /** Per request; UDP retransmits within it (RFC 5389 7.2.1, RTO 250 ms doubling). */
  timeoutMs: number;
}

/** A STUN/TURN error response, with its code (401, 403, 437, 438, 441, 486...). */
export class TurnError extends Error {
  override name = 'TurnError';
  constructor(readonly code: number, readonly reason: string, method: string) {
    super(`${method} refused: ${code} ${reason}`);
  }
}

/** No answer or no connection: the transport itself failed. */
export class TurnTransportError extends Error {
  override name = 'TurnTransportError';
}

/** Attributes of a request; a function when they depend on the transaction ID (XOR-PEER-ADDRESS over IPv6). */
type Attributes = [number, Buffer][] | ((transactionId: Buffer) => [number, Buffer][]);

const NAMES: Record<number, string> = { [Method.Binding]: 'Binding', [Method.Allocate]: 'Allocate', [Method.Refresh]: 'Refresh', [Method.CreatePermission]: 'CreatePermission' };

/**
 * A small TURN client over UDP, TCP or TLS (RFC 5389 / 5766): Binding, Allocate with long-term credentials
 * (401 → REALM/NONCE, 438 stale nonce → retry), CreatePermission, Send/Data indications, Refresh(0).
 */
export class TurnClient {
  private readonly pending = new Map<string, (m: StunMessage, raw: Buffer) => void>();
  private readonly dataWaiters: ((d: { peer: Address; data: Buffer }) => void)[] = [];
  private readonly dataQueue: { peer: Address; data: Buffer }[] = [];
  private streamBuf = Buffer.alloc(0);
  private closedError: Error | undefined;
  private realm: string | undefined;
  private nonce: Buffer | undefined;
  private key: Buffer | undefined;
  private username: string | undefined;
  private password: string | undefined;

  private constructor(private readonly o: TurnClientOptions, private readonly udp: UdpSocket | undefined, private readonly stream: Socket | undefined) {
    udp?.on('message', (b) => this.onPacket(b));
    stream?.on('data', (d: Buffer) => this.onStreamData(d));
    const onClose = (err?: Error) => {
      this.closedError = new TurnTransportError(`connection closed${err === undefined ? '' : ` (${(err as NodeJS.ErrnoException).code ?? err.message})`}`);
    };
    stream?.on('error', onClose);
    stream?.on('close', () => onClose());
  }

  static async connect(o: TurnClientOptions): Promise<TurnClient> {
    if (o.transport === 'udp') {
      const udp = createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.connect(o.port, o.host, () => { udp.off('error', reject); resolve(); });
      });
      udp.on('error', () => undefined);
      return new TurnClient(o, udp, undefined);
    }
    const stream = await new Promise<Socket>((resolve, reject) => {
      const timer = setTimeout(() => { s.destroy(); reject(new TurnTransportError(`no ${o.transport.toUpperCase()} connection within ${o.timeoutMs} ms`)); }, o.timeoutMs);
      const done = (err?: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (err === undefined) resolve(s);
        else { s.destroy(); reject(new TurnTransportError(err.code ?? err.message)); }
      };
      const s: Socket = o.transport === 'tls'
        ? tlsConnect({ host: o.host, port: o.port, servername: o.servername, ...(o.secureContext === undefined ? {} : { secureContext: o.secureContext }) }, () => done())
        : tcpConnect({ host: o.host, port: o.port }, () => done());
      s.once('error', done);
    });
    stream.removeAllListeners('error');
    return new TurnClient(o, undefined, stream);
  }

  private onStreamData(d: Buffer): void {
    this.streamBuf = Buffer.concat([this.streamBuf, d]);
    for (let n = messageLength(this.streamBuf); n !== undefined; n = messageLength(this.streamBuf)) {
      const packet = this.streamBuf.subarray(0, n);
      this.streamBuf = this.streamBuf.subarray(n);
      this.onPacket(Buffer.from(packet));
    }
  }

  private onPacket(raw: Buffer): void {
    if (!isStun(raw)) return;
    let m: StunMessage;
    try {
      m = decode(raw);
    } catch {
      return;
    }
    if (m.cls === Class.indication && m.method === Method.Data) {
      const peer = attr(m, Attr.XorPeerAddress);
      const data = attr(m, Attr.Data);
      if (peer === undefined || data === undefined) return;
      const d = { peer: decodeXorAddress(peer, m.transactionId), data };
      const w = this.dataWaiters.shift();
      if (w === undefined) this.dataQueue.push(d);
      else w(d);
      return;
    }
    this.pending.get(m.transactionId.toString('hex'))?.(m, raw);
  }

  private write(packet: Buffer): void {
    if (this.udp !== undefined) this.udp.send(packet);
    else this.stream?.write(packet);
  }

  /** One transaction: resolves with the success or error response; UDP retransmits. */
  private transact(method: number, attributes: Attributes, key?: Buffer): Promise<{ m: StunMessage; raw: Buffer }> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    const transactionId = randomBytes(12);
    const packet = encode({ method, cls: Class.request, transactionId, attributes: typeof attributes === 'function' ? attributes(transactionId) : attributes }, key);
    const id = transactionId.toString('hex');
    const name = NAMES[method] ?? `method ${method}`;
    return new Promise((resolve, reject) => {
      let rto = 250;
      let retransmit: NodeJS.Timeout | undefined;
      const deadline = setTimeout(() => {
        clearTimeout(retransmit);
        this.pending.delete(id);
        reject(this.closedError ?? new TurnTransportError(`no answer to ${name} over ${this.o.transport} from ${this.o.host}:${this.o.port} within ${this.o.timeoutMs} ms`));
      }, this.o.timeoutMs);
      const send = () => {
        this.write(packet);
        if (this.udp !== undefined) retransmit = setTimeout(send, (rto *= 2) / 2);
      };
      this.pending.set(id, (m, raw) => {
        clearTimeout(deadline);
        clearTimeout(retransmit);
        this.pending.delete(id);
        resolve({ m, raw });
      });
      send();
    });
  }

  /** STUN Binding: the address the server sees us at, and the round trip time. */
  async binding(): Promise<{ mapped: Address; rttMs: number }> {
    const t0 = performance.now();
    const { m } = await this.transact(Method.Binding, []);
    const rttMs = Math.round((performance.now() - t0) * 10) / 10;
    const e = errorCode(m);
    if (e !== undefined) throw new TurnError(e.code, e.reason, 'Binding');
    const x = attr(m, Attr.XorMappedAddress);
    if (x === undefined) throw new TurnTransportError('Binding response has no XOR-MAPPED-ADDRESS');
    return { mapped: decodeXorAddress(x, m.transactionId), rttMs };
  }

  /** An authenticated request: learns REALM/NONCE from a 401 and retries once, and once more on 438. */
  private async authenticated(method: number, attributes: Attributes): Promise<StunMessage> {
    const name = NAMES[method] ?? `method ${method}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const auth: [number, Buffer][] = this.key === undefined || this.username === undefined ? [] : [[Attr.Username, Buffer.from(this.username)], [Attr.Realm, Buffer.from(this.realm ?? '')], [Attr.Nonce, this.nonce ?? Buffer.alloc(0)]];
      const { m, raw } = await this.transact(method, (txid) => [...(typeof attributes === 'function' ? attributes(txid) : attributes), ...auth], this.key);
      const e = errorCode(m);
      if (e === undefined) {
        if (this.key !== undefined && !verifyIntegrity(raw, this.key)) throw new TurnTransportError(`${name} response failed MESSAGE-INTEGRITY`);
        return m;
      }
      const realm = attr(m, Attr.Realm);
      const nonce = attr(m, Attr.Nonce);
      const retriable = (e.code === 401 && auth.length === 0) || e.code === 438;
      if (!retriable || nonce === undefined) throw new TurnError(e.code, e.reason, name);
      this.nonce = nonce;
      if (realm !== undefined) this.realm = realm.toString('utf8');
      if (this.username !== undefined && this.password !== undefined && this.realm !== undefined) this.key = longTermKey(this.username, this.realm, this.password);
    }
    throw new TurnTransportError(`${name}: authentication did not settle after 3 attempts`);
  }

  /**
   * TURN Allocate with long-term credentials: a UDP relay (RFC 5766), or with `relay: 'tcp'` a TCP one (RFC 6062,
   * over a TCP or TLS control connection), which WebRTC never asks for and our coturn refuses (no-tcp-relay).
   */
  async allocate(username: string, password: string, lifetimeSec = 60, relay: 'udp' | 'tcp' = 'udp'): Promise<{ relayed: Address; mapped: Address | undefined; lifetimeSec: number; realm: string }> {
    this.username = username;
    this.password = password;
    this.key = undefined;
    const protocol = relay === 'udp' ? 17 : 6;
    const m = await this.authenticated(Method.Allocate, [[Attr.RequestedTransport, Buffer.from([protocol, 0, 0, 0])], [Attr.Lifetime, u32(lifetimeSec)]]);
    const relayed = attr(m, Attr.XorRelayedAddress);
    if (relayed === undefined) throw new TurnTransportError('Allocate response has no XOR-RELAYED-ADDRESS');
    const mapped = attr(m, Attr.XorMappedAddress);
    return {
      relayed: decodeXorAddress(relayed, m.transactionId),
      mapped: mapped === undefined ? undefined : decodeXorAddress(mapped, m.transactionId),
      lifetimeSec: attr(m, Attr.Lifetime)?.readUInt32BE(0) ?? lifetimeSec,
      realm: this.realm ?? '',
    };
  }

  /** Let `peerIp` send to and receive from the relay; a 403 means coturn refuses that peer. */
  async createPermission(peerIp: string): Promise<void> {
    await this.authenticated(Method.CreatePermission, (txid) => [[Attr.XorPeerAddress, encodeXorAddress({ ip: peerIp, port: 0 }, txid)]]);
  }

  /** Send indication: `data` leaves the relay towards `peer` (needs a permission for its IP). */
  send(peer: Address, data: Buffer): void {
    const transactionId = randomBytes(12);
    this.write(encode({ method: Method.Send, cls: Class.indication, transactionId, attributes: [[Attr.XorPeerAddress, encodeXorAddress(peer, transactionId)], [Attr.Data, data]] }));
  }

  /** The next Data indication (data a peer sent to our relayed address). */
  nextData(timeoutMs: number): Promise<{ peer: Address; data: Buffer }> {
    const queued = this.dataQueue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.dataWaiters.splice(this.dataWaiters.indexOf(waiter), 1);
        reject(new TurnTransportError(`no data came back through the relay within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (d: { peer: Address; data: Buffer }) => { clearTimeout(timer); resolve(d); };
      this.dataWaiters.push(waiter);
    });
  }

  /** Release the allocation (Refresh with lifetime 0) and close; never throws. */
  async close(): Promise<void> {
    if (this.key !== undefined && this.closedError === undefined) await this.authenticated(Method.Refresh, [[Attr.Lifetime, u32(0)]]).catch(() => undefined);
    this.udp?.close();
    this.stream?.destroy();
  }
}
