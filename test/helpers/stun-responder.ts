import { createSocket, type Socket } from 'node:dgram';
import { Attr, Class, Method, decode, encode, encodeXorAddress, isStun } from '../../lib/turn/stun-message.js';

/**
 * A STUN Binding responder on loopback (RFC 5389: XOR-MAPPED-ADDRESS of the sender), for WebRTC clients in tests.
 * werift asks stun.l.google.com when it is given no STUN server: pointing it here keeps every packet on loopback.
 */
export async function startStunResponder(host = '127.0.0.1'): Promise<{ url: string; close: () => void }> {
  const socket: Socket = createSocket('udp4');
  socket.on('message', (buf, rinfo) => {
    if (!isStun(buf)) return;
    const req = decode(buf);
    if (req.method !== Method.Binding || req.cls !== Class.request) return;
    socket.send(encode({ method: Method.Binding, cls: Class.success, transactionId: req.transactionId, attributes: [[Attr.XorMappedAddress, encodeXorAddress({ ip: rinfo.address, port: rinfo.port }, req.transactionId)]] }), rinfo.port, rinfo.address);
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return { url: `stun:${host}:${socket.address().port}`, close: () => socket.close() };
}
