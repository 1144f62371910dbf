import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { EXIT, UsageError, oneHost, parseCli, type Io } from '../cli.js';
import { loadHost } from '../inventory/index.js';
import { DEFAULT_TEST_TTL_SEC, TEST_ROLE, isTestRoom } from './role.js';

const spec = {
  usage: 'token.mjs <host> [--room connection-test-NAME] [--ttl SECONDS]',
  description: `Mint a short-lived token of the ${TEST_ROLE} role from the host's JWT secret and print the link to its connection test page `
    + '(https://<first app domain>/connection-test#token=...). The token works only in test rooms, so the link cannot join a real call; '
    + 'the token is in the link\'s #fragment, which browsers never send to a server, so no log holds it. Send the link to whoever reports "it does not work from here".',
  options: {
    room: { type: 'string' },
    ttl: { type: 'string', default: String(DEFAULT_TEST_TTL_SEC) },
  },
  help: {
    room: 'The test room (default: connection-test-<random>, one per link); must start with "connection-test"',
    ttl: `How long the link works, in seconds (default ${DEFAULT_TEST_TTL_SEC}; at most 86400, the server's default JWT_MAX_LIFETIME_SEC)`,
  },
} as const;

export async function tokenMain(argv: string[], io: Io): Promise<number> {
  const args = parseCli(spec, argv, io);
  if (args === undefined) return EXIT.ok;
  const hostName = oneHost(args, 'token', 'name the host (e.g. sandbox)');
  const ttl = Number(args.values.ttl);
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > 86_400) throw new UsageError('--ttl takes whole seconds from 60 to 86400');
  const room = typeof args.values.room === 'string' ? args.values.room : `${TEST_ROLE}-${randomBytes(4).toString('hex')}`;
  if (!isTestRoom(room) || !/^[A-Za-z0-9_.:@-]{1,128}$/.test(room)) throw new UsageError(`--room "${room}": a test room is "connection-test" or "connection-test-<letters, digits, _ . : @ ->"`);
  const { host, secrets } = loadHost(args.inventory, hostName);
  const sub = `tester-${randomBytes(4).toString('hex')}`;
  const token = jwt.sign({ sub, room, role: TEST_ROLE }, secrets.jwtSecret.reveal(), { algorithm: 'HS256', expiresIn: ttl });
  const domain = host.app.domains[0];
  const url = `https://${domain}/connection-test#token=${token}`;
  const expiresAt = new Date(Date.now() + ttl * 1000).toISOString();
  io.out(args.json ? JSON.stringify({ host: host.name, url, room, sub, expiresAt }, null, 2)
    : `${url}\n\n${host.name}: connection test link for room ${room}, valid until ${expiresAt} (${Math.round(ttl / 60)} min); results appear in the server's log (event connection_test) and /metrics`);
  return EXIT.ok;
}
