import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  /** Log lines from stdout so far (JSON; anything else as { raw }). */
  logs: Record<string, unknown>[];
  /** The same lines exactly as written. */
  lines: string[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLog: (event: string, timeoutMs?: number) => Promise<Record<string, unknown>>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Runs the server entry point (server/main.ts) as its own process, the way PM2 does. */
export function spawnServer(env: Record<string, string | undefined>, args: string[] = []): ServerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', ...args], {
    cwd: root,
    env: { PATH: process.env['PATH'], MEDIASOUP_WORKER_BIN: process.env['MEDIASOUP_WORKER_BIN'], ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const lines: string[] = [];
  let err = '';
  let buf = '';
  const waiters: { event: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() === '') continue;
      lines.push(line);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        parsed = { raw: line };
      }
      logs.push(parsed);
      for (const w of [...waiters]) if (w.event === parsed['event']) { waiters.splice(waiters.indexOf(w), 1); w.resolve(parsed); }
    }
  });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child, port: Number(env['PORT'] ?? 0), logs, lines, exited,
    stderr: () => err,
    waitForLog: (event, timeoutMs = 10000) => {
      const seen = logs.find((l) => l['event'] === event);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no "${event}" log line within ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
        waiters.push({ event, resolve: (l) => { clearTimeout(t); resolve(l); } });
      });
    },
  };
}
