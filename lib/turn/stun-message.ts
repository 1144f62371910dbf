import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { crc32 } from 'node:zlib';

/** STUN (RFC 5389) and TURN (RFC 5766) messages: just what a health probe needs. */

export const MAGIC_COOKIE = 0x2112a442;
const FINGERPRINT_XOR = 0x5354554e;

export const Method = { Binding: 0x001, Allocate: 0x003, Refresh: 0x004, Send: 0x006, Data: 0x007, CreatePermission: 0x008 } as const;
export const Class = { request: 0x000, indication: 0x010, success: 0x100, error: 0x110 } as const;

export const Attr = {
  MappedAddress: 0x0001, Username: 0x0006, MessageIntegrity: 0x0008, ErrorCode: 0x0009, Lifetime: 0x000d,
  XorPeerAddress: 0x0012, Data: 0x0013, Realm: 0x0014, Nonce: 0x0015, XorRelayedAddress: 0x0016,
  RequestedTransport: 0x0019, XorMappedAddress: 0x0020, Software: 0x8022, Fingerprint: 0x8028,
} as const;

export interface Address {
  ip: string;
  port: number;
}

export interface StunMessage {
  method: number;
  cls: number;
  transactionId: Buffer;
  /** Attributes in order (a type may repeat). */
  attributes: [number, Buffer][];
}

export const messageType = (method: number, cls: number) =>
  ((method & 0xf80) << 2) | ((method & 0x070) << 1) | (method & 0x00f) | ((cls & 0x100) << 0) | ((cls & 0x010) << 0);

function splitType(type: number): { method: number; cls: number } {
  return { method: ((type >> 2) & 0xf80) | ((type >> 1) & 0x070) | (type & 0x00f), cls: type & 0x110 };
}

function encodeAttribute(type: number, value: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16BE(type, 0);
  header.writeUInt16BE(value.length, 2);
  return Buffer.concat([header, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}

/** Long-term credential key (RFC 5389 15.4): MD5(username:realm:password). */
export function longTermKey(username: string, realm: string, password: string): Buffer {
  return createHash('md5').update(`${username}:${realm}:${password}`).digest();
}

/** Encode a message; with a key it carries MESSAGE-INTEGRITY; FINGERPRINT is always last. */
export function encode(m: Omit<StunMessage, 'transactionId'> & { transactionId?: Buffer }, key?: Buffer): Buffer {
  const transactionId = m.transactionId ?? randomBytes(12);
  let body = Buffer.concat(m.attributes.map(([t, v]) => encodeAttribute(t, v)));
  const header = (extra: number) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(messageType(m.method, m.cls), 0);
    h.writeUInt16BE(body.length + extra, 2);
    h.writeUInt32BE(MAGIC_COOKIE, 4);
    transactionId.copy(h, 8);
    return h;
  };
  if (key !== undefined) {
    const hmac = createHmac('sha1', key).update(Buffer.concat([header(24), body])).digest();
    body = Buffer.concat([body, encodeAttribute(Attr.MessageIntegrity, hmac)]);
  }
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((crc32(Buffer.concat([header(8), body])) ^ FINGERPRINT_XOR) >>> 0, 0);
  return Buffer.concat([header(8), body, encodeAttribute(Attr.Fingerprint, crc)]);
}

/** Length of the STUN message at the start of `buf` (for stream transports), or undefined if incomplete. */
export function messageLength(buf: Buffer): number | undefined {
  if (buf.length < 20) return undefined;
  const total = 20 + buf.readUInt16BE(2);
  return buf.length >= total ? total : undefined;
}

export function isStun(buf: Buffer): boolean {
  return buf.length >= 20 && (buf[0]! & 0xc0) === 0 && buf.readUInt32BE(4) === MAGIC_COOKIE;
}

export function decode(buf: Buffer): StunMessage {
  if (!isStun(buf)) throw new Error('not a STUN message');
  const length = buf.readUInt16BE(2);
  if (20 + length > buf.length) throw new Error('truncated STUN message');
  const attributes: [number, Buffer][] = [];
  for (let o = 20; o + 4 <= 20 + length; ) {
    const t = buf.readUInt16BE(o);
    const l = buf.readUInt16BE(o + 2);
    attributes.push([t, Buffer.from(buf.subarray(o + 4, o + 4 + l))]);
    o += 4 + l + ((4 - (l % 4)) % 4);
  }
  return { ...splitType(buf.readUInt16BE(0)), transactionId: Buffer.from(buf.subarray(8, 20)), attributes };
}

/** Offset of an attribute in an encoded message, for integrity and fingerprint checks. */
function attributeOffset(buf: Buffer, type: number): number | undefined {
  for (let o = 20; o + 4 <= buf.length; ) {
    if (buf.readUInt16BE(o) === type) return o;
    const l = buf.readUInt16BE(o + 2);
    o += 4 + l + ((4 - (l % 4)) % 4);
  }
  return undefined;
}

/** Whether MESSAGE-INTEGRITY is present and matches `key`. */
export function verifyIntegrity(buf: Buffer, key: Buffer): boolean {
  const o = attributeOffset(buf, Attr.MessageIntegrity);
  if (o === undefined) return false;
  const head = Buffer.from(buf.subarray(0, o));
  head.writeUInt16BE(o - 20 + 24, 2);
  const expected = createHmac('sha1', key).update(head).digest();
  return timingSafeEqual(expected, buf.subarray(o + 4, o + 24));
}

/** Whether FINGERPRINT is present and matches. */
export function verifyFingerprint(buf: Buffer): boolean {
  const o = attributeOffset(buf, Attr.Fingerprint);
  if (o === undefined) return false;
  const head = Buffer.from(buf.subarray(0, o));
  head.writeUInt16BE(o - 20 + 8, 2);
  return ((crc32(head) ^ FINGERPRINT_XOR) >>> 0) === buf.readUInt32BE(o + 4);
}

export function attr(m: StunMessage, type: number): Buffer | undefined {
  return m.attributes.find(([t]) => t === type)?.[1];
}

/** XOR-MAPPED-ADDRESS and friends (RFC 5389 15.2). */
export function encodeXorAddress(a: Address, transactionId: Buffer): Buffer {
  const v4 = isIPv4(a.ip);
  const v = Buffer.alloc(v4 ? 8 : 20);
  v.writeUInt16BE(v4 ? 0x01 : 0x02, 0);
  v.writeUInt16BE(a.port ^ (MAGIC_COOKIE >>> 16), 2);
  const raw = v4 ? Buffer.from(a.ip.split('.').map(Number)) : ipv6Bytes(a.ip);
  const mask = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), transactionId]);
  for (let i = 0; i < raw.length; i++) v[4 + i] = raw[i]! ^ mask[i]!;
  return v;
}

export function decodeXorAddress(v: Buffer, transactionId: Buffer): Address {
  const family = v.readUInt16BE(0) & 0xff;
  const port = v.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16);
  const mask = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), transactionId]);
  const raw = Buffer.from(v.subarray(4, family === 0x01 ? 8 : 20).map((b, i) => b ^ mask[i]!));
  return { ip: family === 0x01 ? [...raw].join('.') : ipv6String(raw), port };
}

function ipv6Bytes(address: string): Buffer {
  // An IPv4 tail (::ffff:127.0.0.1) is two groups.
  const ip = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) => `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`);
  const [head = '', tail = ''] = ip.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = ip.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

function ipv6String(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

export function errorCode(m: StunMessage): { code: number; reason: string } | undefined {
  const e = attr(m, Attr.ErrorCode);
  if (e === undefined || e.length < 4) return undefined;
  return { code: (e[2]! & 0x7) * 100 + e[3]!, reason: e.subarray(4).toString('utf8') };
}

export const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};
