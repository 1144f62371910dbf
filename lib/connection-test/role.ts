/**
 * The connection test's tokens (scripts/token.mjs) and the server (server/connection-test.ts) agree here: a token
 * of the test role may use only test rooms, and test rooms only that role, so a test link never reaches a real call.
 */
export const TEST_ROLE = 'connection-test';
export const TEST_ROOM_PREFIX = 'connection-test';

export function isTestRoom(room: string): boolean {
  return room === TEST_ROOM_PREFIX || room.startsWith(`${TEST_ROOM_PREFIX}-`);
}

/** A token's role and room agree: the test role only in test rooms, and no other role in them. */
export function testRoomAllowed(role: string | undefined, room: string): boolean {
  return (role === TEST_ROLE) === isTestRoom(room);
}

/** The paths the page tries, in order; the server accepts reports for these only. */
export const TEST_PATHS = ['udp', 'tcp', 'turn-udp', 'turn-tcp', 'turn-tls'] as const;

/** Long enough to send a link and run the test; the server refuses tokens longer-lived than JWT_MAX_LIFETIME_SEC. */
export const DEFAULT_TEST_TTL_SEC = 15 * 60;
