import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** When it arrived (ms since the epoch). */
  at: number;
}

/**
 * A local HTTP endpoint standing in for Slack or a webhook: records every accepted POST, counts every attempt, can be
 * told to fail (a status, with a Retry-After) or go down. Listens on 127.0.0.1 unless given an address (the operator's
 * end of a sandbox's bridge, for a host's daemon to reach).
 */
export class AlertReceiver {
  readonly received: Received[] = [];
  /** Every POST, accepted or not, with its arrival time. */
  readonly attempts: number[] = [];
  /** HTTP status to answer with (Slack answers 200 "ok"). */
  status = 200;
  /** Sent with a non-2xx answer (Slack's 429 says how long to wait). */
  retryAfter: string | undefined;
  private server: Server | undefined;

  private constructor(readonly port: number, readonly address: string) {}

  static async start(port = 0, address = '127.0.0.1'): Promise<AlertReceiver> {
    const r = new AlertReceiver(port, address);
    await r.up();
    return r;
  }

  get url(): string {
    return `http://${this.address}:${this.port}/services/T000/B000/test-webhook-secret`;
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        this.attempts.push(Date.now());
        const ok = this.status >= 200 && this.status < 300;
        if (ok) this.received.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(body) as Record<string, unknown>, at: Date.now() });
        res.writeHead(this.status, { 'content-type': 'text/plain', ...(!ok && this.retryAfter !== undefined ? { 'retry-after': this.retryAfter } : {}) }).end(this.status === 200 ? 'ok' : 'server_error');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.address, () => resolve());
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
