// The signaling socket: JSON requests answered in order, notifications pushed by the server (server/protocol.ts).

export type ErrorCode = 'bad_request' | 'unknown_method' | 'not_found' | 'forbidden' | 'not_joined' | 'conflict' | 'unavailable' | 'internal' | 'timeout' | 'closed';

/** A request the server refused (its code and message), or one that never got an answer (timeout, closed). */
export class SignalingError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'SignalingError';
  }
}

/** WebSocket close codes the server sends (server/protocol.ts CloseCode). */
export const CloseCode = { normal: 1000, goingAway: 1001, malformed: 4400, tokenExpired: 4401, replaced: 4409, rateLimited: 4429 } as const;

interface Pending { resolve: (data: unknown) => void; reject: (err: Error) => void; timer: ReturnType<typeof setTimeout> }

export class SignalingSocket {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(private readonly ws: WebSocket, private readonly timeoutMs: number,
    private readonly onNotification: (name: string, data: Record<string, unknown>) => void,
    private readonly onClose: (code: number, reason: string) => void) {
    ws.addEventListener('message', (e) => this.receive(e.data));
    ws.addEventListener('close', (e) => {
      for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(new SignalingError('closed', `the connection closed (${e.code} ${e.reason})`)); }
      this.pending.clear();
      this.onClose(e.code, e.reason);
    });
  }

  /** Opens the socket; the token goes in the query, the only place a browser can put it on a WebSocket. */
  static open(url: string, token: string, o: { timeoutMs: number; onNotification: SignalingSocket['onNotification']; onClose: SignalingSocket['onClose'] }): Promise<SignalingSocket> {
    const u = new URL(url);
    u.searchParams.set('token', token);
    const ws = new WebSocket(u.toString());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { ws.close(); reject(new SignalingError('timeout', `no answer from ${url} within ${o.timeoutMs} ms`)); }, o.timeoutMs);
      ws.addEventListener('open', () => { clearTimeout(timer); resolve(new SignalingSocket(ws, o.timeoutMs, o.onNotification, o.onClose)); }, { once: true });
      // The browser hides why an upgrade failed (401, 403, 429, 503 look the same): say what it can be.
      ws.addEventListener('close', (e) => { clearTimeout(timer); reject(new SignalingError('closed', `could not open ${url} (${e.code}): the token was refused or expired, the server is draining, or the address is unreachable`)); }, { once: true });
    });
  }

  request<T = Record<string, unknown>>(method: string, data: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new SignalingError('timeout', `${method}: no answer within ${this.timeoutMs} ms`)); }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (d: unknown) => void, reject, timer });
      this.ws.send(JSON.stringify({ id, method, data }));
    });
  }

  close(code: number = CloseCode.normal, reason = 'client closed'): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }

  private receive(raw: unknown): void {
    if (typeof raw !== 'string') return;
    let msg: { id?: number; ok?: boolean; data?: unknown; error?: { code: ErrorCode; message: string }; notification?: string };
    try {
      msg = JSON.parse(raw) as typeof msg;
    } catch {
      return;
    }
    if (typeof msg.notification === 'string') return this.onNotification(msg.notification, (msg.data ?? {}) as Record<string, unknown>);
    const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (p === undefined || msg.id === undefined) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok === true) p.resolve(msg.data ?? {});
    else p.reject(new SignalingError(msg.error?.code ?? 'internal', msg.error?.message ?? 'request failed'));
  }
}
