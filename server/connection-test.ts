import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

// The page at /connection-test, what it reports, and (lib/connection-test/role.ts) who may use test rooms.
import { TEST_PATHS } from '../lib/connection-test/role.js';

export { TEST_ROLE, testRoomAllowed } from '../lib/connection-test/role.js';

const figure = (max: number) => z.number().finite().min(0).max(max).optional();

/** What the page reports when it has run: one result per path, as the person saw them. */
export const testReport = z.object({
  results: z.array(z.object({
    path: z.enum(TEST_PATHS),
    ok: z.boolean(),
    reason: z.string().max(300).optional(),
    rttMs: figure(60_000),
    lossPct: figure(100),
    jitterMs: figure(60_000),
    bitrateKbps: figure(1_000_000),
  }).strict()).min(1).max(TEST_PATHS.length),
  userAgent: z.string().max(300).optional(),
}).strict();

export type TestReport = z.infer<typeof testReport>;

/** The page's two built files (npm run build: dist/connection-test/), read once; undefined when not built. */
export interface TestPage { html: Buffer; js: Buffer }

export function loadTestPage(): TestPage | undefined {
  // dist/server/ next to dist/connection-test/ (as deployed), or the sources next to dist/ (tsx, tests).
  for (const dir of ['../connection-test/', '../dist/connection-test/']) {
    const base = fileURLToPath(new URL(dir, import.meta.url));
    if (existsSync(`${base}index.html`) && existsSync(`${base}app.js`)) {
      return { html: readFileSync(`${base}index.html`), js: readFileSync(`${base}app.js`) };
    }
  }
  return undefined;
}
