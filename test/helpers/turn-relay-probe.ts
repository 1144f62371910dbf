// Run inside a network namespace (ip netns exec): UDP listeners on the host's address, a TURN UDP allocation on coturn
// there, one datagram through the relay to each listener. Prints the ports that received it, as JSON.
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { mintTurnCredentials } from '../../lib/turn/credentials.js';
import { TurnClient } from '../../lib/turn/client.js';

const { address, turnPort, secret, ports } = JSON.parse(process.argv[2] ?? '{}') as { address: string; turnPort: number; secret: string; ports: number[] };
const received = new Set<number>();
const sockets = await Promise.all(ports.map((port) => new Promise<ReturnType<typeof createSocket>>((resolve) => {
  const socket = createSocket('udp4').on('message', () => received.add(port));
  socket.bind(port, address, () => resolve(socket));
})));
const { username, password } = mintTurnCredentials(secret, 'probe', 600);
const turn = await TurnClient.connect({ transport: 'udp', host: address, port: turnPort, timeoutMs: 2000 });
await turn.allocate(username, password);
await turn.createPermission(address);
for (let i = 0; i < 3; i++) for (const port of ports) turn.send({ ip: address, port }, Buffer.from(`probe ${port}`));
await sleep(1000);
await turn.close();
for (const s of sockets) s.close();
process.stdout.write(JSON.stringify([...received].sort((a, b) => a - b)));
