// Reference for bench/server-join: a bare ws server that answers each message with a fixed reply.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
wss.on('listening', () => process.send?.({ port: wss.address().port }));
