import { z } from 'zod';
import { testReport } from './connection-test.js';
import { appData, dtlsParameters, rtpCapabilities, rtpParameters } from './media-schemas.js';

/**
 * The signaling protocol: JSON text frames.
 *   client → server  {"id": 1, "method": "produce", "data": {...}}
 *   server → client  {"id": 1, "ok": true, "data": {...}}  or  {"id": 1, "ok": false, "error": {"code": "...", "message": "..."}}
 *   server → client  {"notification": "newProducer", "data": {...}}
 */
export const requestEnvelope = z.object({
  id: z.union([z.number().int().nonnegative(), z.string().min(1).max(64)]),
  method: z.string().min(1).max(64),
  data: z.record(z.string(), z.unknown()).optional(),
}).strict();

/** Ids the server handed out (mediasoup UUIDs). */
const objectId = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an id this server handed out');

const empty = z.object({}).strict();

/** One schema per method: a request whose data does not match is answered with bad_request. */
export const methodSchemas = {
  getRouterRtpCapabilities: empty,
  join: z.object({ rtpCapabilities, displayName: z.string().regex(/^[^\p{Cc}]{0,128}$/u, 'must be at most 128 characters, no control characters').optional() }).strict(),
  createWebRtcTransport: z.object({ direction: z.enum(['send', 'recv']), forceTcp: z.boolean().optional() }).strict(),
  connectTransport: z.object({ transportId: objectId, dtlsParameters }).strict(),
  restartIce: z.object({ transportId: objectId }).strict(),
  getTransportStats: z.object({ transportId: objectId }).strict(),
  produce: z.object({ transportId: objectId, kind: z.enum(['audio', 'video']), rtpParameters, appData: appData.optional() }).strict()
    .refine((d) => d.rtpParameters.codecs.every((c) => c.mimeType.toLowerCase().startsWith(`${d.kind}/`)), { path: ['rtpParameters', 'codecs'], message: 'every codec must be of the producer\'s kind' }),
  consume: z.object({ transportId: objectId, producerId: objectId, rtpCapabilities: rtpCapabilities.optional() }).strict(),
  pause: z.union([z.object({ consumerId: objectId }).strict(), z.object({ producerId: objectId }).strict()]),
  resume: z.union([z.object({ consumerId: objectId }).strict(), z.object({ producerId: objectId }).strict()]),
  closeProducer: z.object({ producerId: objectId }).strict(),
  leave: empty,
  refreshToken: z.object({ token: z.string().min(1) }).strict(),
  reportConnectionTest: testReport,
} as const;

export type Method = keyof typeof methodSchemas;
export type MethodData<M extends Method> = z.infer<(typeof methodSchemas)[M]>;

export function isMethod(name: string): name is Method {
  return Object.prototype.hasOwnProperty.call(methodSchemas, name);
}

export type ErrorCode = 'bad_request' | 'unknown_method' | 'not_found' | 'forbidden' | 'not_joined' | 'conflict' | 'unavailable' | 'internal';

/** An error meant for the client: its code and message are sent as they are. */
export class SignalingError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'SignalingError';
  }
}

/** WebSocket close codes the server uses (4000-4999 are application codes). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  tooBig: 1009,
  malformed: 4400,
  tokenExpired: 4401,
  replaced: 4409,
  rateLimited: 4429,
} as const;

/** A reply body serialized once and sent many times (a room's router capabilities, asked for by every peer). */
export class Preserialized {
  constructor(readonly json: string) {}
}

/** Renders a zod error as one short line: "data.dtlsParameters.fingerprints: Too small ...". */
export function describeZodError(err: z.ZodError, prefix: string): string {
  return err.issues.slice(0, 3).map((i) => `${[prefix, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');
}
