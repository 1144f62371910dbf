import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** A local HTTP endpoint standing in for Slack or a webhook: records every POST, can be told to fail or go down. */
export class AlertReceiver {
  readonly received: Received[] = [];
  /** HTTP status to answer with (Slack answers 200 "ok"). */
  status = 200;
  private server: Server | undefined;

  private constructor(readonly port: number) {}

  static async start(port = 0): Promise<AlertReceiver> {
    const r = new AlertReceiver(port);
    await r.up();
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/services/T000/B000/test-webhook-secret`;
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        if (this.status >= 200 && this.status < 300) this.received.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(body) as Record<string, unknown> });
        res.writeHead(this.status, { 'content-type': 'text/plain' }).end(this.status === 200 ? 'ok' : 'server_error');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    (this as { port: number }).port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stop listening: connections are refused until up() again (same port). */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Wait until at least n alerts arrived. */
  async waitFor(n: number, timeoutMs = 5000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n) {
      if (Date.now() > deadline) throw new Error(`expected ${n} alerts, got ${this.received.length}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.received;
  }
}
