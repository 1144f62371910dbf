import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** A pino logger whose JSON lines are kept in memory, to assert on what was (and was not) logged. */
export function capturedLogger(): { log: Logger; lines: string[]; entries: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(line);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
