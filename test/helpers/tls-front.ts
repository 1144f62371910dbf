import { readFileSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { createServer } from 'node:tls';

/** nginx's part for the daemon's checks: TLS with the host certificate on a loopback port, bytes passed to the server (HTTP and WebSocket alike). */
export function startTlsFront(port: number, cert: { fullchainFile: string; keyFile: string }, upstreamPort: number): Promise<Server> {
  const server = createServer({ cert: readFileSync(cert.fullchainFile), key: readFileSync(cert.keyFile) }, (tls) => {
    const up = connect(upstreamPort, '127.0.0.1');
    tls.pipe(up).pipe(tls);
    tls.on('error', () => up.destroy());
    up.on('error', () => tls.destroy());
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
