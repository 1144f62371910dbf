import { z } from 'zod';

/**
 * Strict schemas for every media field a client sends and mediasoup serializes to its worker. mediasoup's own
 * `ortc` checks are loose (`typeof null === 'object'`, no check of `maxBitrate`, numbers never range-checked), and
 * a value that throws half-way through building a worker request breaks that worker's channel (see
 * server/worker-channel.ts). So every value is checked here, before any mediasoup call: types, integer ranges as
 * wide as the FlatBuffers field they land in, string lengths, and the cross-field rules ortc expects.
 */

const UINT8 = 0xff;
const UINT32 = 0xffffffff;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const payloadType = int(0, 127);
const ssrc = int(1, UINT32);

/** What mediasoup can serialize as a codec or header-extension parameter: a string, an int32, or a finite double. */
const parameterValue = z.union([
  z.string().max(256),
  z.number().refine((n) => Number.isFinite(n) && (!Number.isInteger(n) || (n >= INT32_MIN && n <= INT32_MAX)), 'must be a finite number; integers must fit in 32 bits'),
]);
const parameters = z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'parameter names are 1-64 letters, digits, "_", "." or "-"'), parameterValue)
  .refine((p) => Object.keys(p).length <= 32, 'at most 32 parameters')
  .refine((p) => p['apt'] === undefined || (typeof p['apt'] === 'number' && Number.isInteger(p['apt']) && p['apt'] >= 0 && p['apt'] <= 127), 'apt must be a payload type (0-127)');

const mimeType = z.string().regex(/^(audio|video)\/[A-Za-z0-9][A-Za-z0-9.+_-]{0,31}$/i, 'must be "audio/<codec>" or "video/<codec>"');
const kind = z.enum(['audio', 'video']);
const rtcpFeedback = z.object({
  type: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 letters, digits, "_" or "-"'),
  parameter: z.string().regex(/^[A-Za-z0-9 _-]{0,32}$/, 'must be at most 32 letters, digits, spaces, "_" or "-"').optional(),
}).strict();
const clockRate = int(1, UINT32);
const channels = int(1, UINT8);

/** The header extensions mediasoup knows how to serialize; any other URI makes it throw. */
export const HEADER_EXTENSION_URIS = [
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension',
  'urn:3gpp:video-orientation',
  'urn:ietf:params:rtp-hdrext:toffset',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
  'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
  'urn:mediasoup:params:rtp-hdrext:packet-id',
] as const;
const headerExtensionId = int(1, UINT8);

const codecCapability = z.object({
  kind: kind.optional(),
  mimeType,
  preferredPayloadType: payloadType,
  clockRate,
  channels: channels.optional(),
  parameters: parameters.optional(),
  rtcpFeedback: z.array(rtcpFeedback).max(16).optional(),
}).strict()
  .refine((c) => c.kind === undefined || c.mimeType.toLowerCase().startsWith(`${c.kind}/`), 'kind must match the mimeType')
  .transform((c) => ({ ...c, kind: c.kind ?? (c.mimeType.toLowerCase().startsWith('audio/') ? 'audio' as const : 'video' as const) }));

const headerExtensionCapability = z.object({
  kind,
  uri: z.enum(HEADER_EXTENSION_URIS),
  preferredId: headerExtensionId,
  preferredEncrypt: z.boolean().optional(),
  direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
}).strict();

/** What a client's device can receive (mediasoup-client's device.rtpCapabilities). */
export const rtpCapabilities = z.object({
  codecs: z.array(codecCapability).max(64).optional(),
  headerExtensions: z.array(headerExtensionCapability).max(64).optional(),
}).strict();

const codecParameters = z.object({
  mimeType,
  payloadType,
  clockRate,
  channels: channels.optional(),
  parameters: parameters.optional(),
  rtcpFeedback: z.array(rtcpFeedback).max(16).optional(),
}).strict();

const headerExtensionParameters = z.object({
  uri: z.enum(HEADER_EXTENSION_URIS),
  id: headerExtensionId,
  encrypt: z.boolean().optional(),
  parameters: parameters.optional(),
}).strict();

const encoding = z.object({
  ssrc: ssrc.optional(),
  rid: z.string().regex(/^[A-Za-z0-9_-]{1,16}$/, 'must be 1-16 letters, digits, "_" or "-"').optional(),
  codecPayloadType: payloadType.optional(),
  rtx: z.object({ ssrc }).strict().optional(),
  dtx: z.boolean().optional(),
  scalabilityMode: z.string().regex(/^[LS][1-9]\d?T[1-9]\d?(_KEY)?(_SHIFT)?$/, 'must look like "L1T3" or "S3T3_KEY"').optional(),
  maxBitrate: int(1, UINT32).optional(),
  // Browser fields mediasoup-client passes through; mediasoup ignores them, so they are checked and dropped.
  active: z.boolean().optional(),
  scaleResolutionDownBy: z.number().min(1).max(1024).optional(),
  maxFramerate: z.number().min(0).max(1000).optional(),
  priority: z.enum(['very-low', 'low', 'medium', 'high']).optional(),
  networkPriority: z.enum(['very-low', 'low', 'medium', 'high']).optional(),
  adaptivePtime: z.boolean().optional(),
}).strict().transform(({ active, scaleResolutionDownBy, maxFramerate, priority, networkPriority, adaptivePtime, ...kept }) => kept);

const rtcp = z.object({
  cname: z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 printable ASCII characters').optional(),
  reducedSize: z.boolean().optional(),
  mux: z.boolean().optional(),
}).strict().transform(({ mux, ...kept }) => kept);

const unique = <T>(values: T[]) => new Set(values).size === values.length;

/** What a client sends with `produce` (mediasoup-client's producer rtpParameters). */
export const rtpParameters = z.object({
  mid: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'must be 1-32 letters, digits, "_", "." or "-"').optional(),
  codecs: z.array(codecParameters).min(1).max(16),
  headerExtensions: z.array(headerExtensionParameters).max(16).optional(),
  encodings: z.array(encoding).max(8).optional(),
  rtcp: rtcp.optional(),
  msid: z.string().regex(/^[\x21-\x7e]{1,64}( [\x21-\x7e]{1,64})?$/, 'must be "<stream id> <track id>" in printable ASCII').optional(),
}).strict().superRefine((p, ctx) => {
  const problem = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if (!unique(p.codecs.map((c) => c.payloadType))) problem(['codecs'], 'payload types must be unique');
  if (!unique((p.headerExtensions ?? []).map((h) => h.id))) problem(['headerExtensions'], 'ids must be unique');
  if (!unique((p.headerExtensions ?? []).map((h) => h.uri))) problem(['headerExtensions'], 'URIs must be unique');
  const encodings = p.encodings ?? [];
  const ssrcs = encodings.flatMap((e) => [e.ssrc, e.rtx?.ssrc]).filter((s) => s !== undefined);
  if (!unique(ssrcs)) problem(['encodings'], 'SSRCs (including RTX SSRCs) must be unique');
  const rids = encodings.map((e) => e.rid).filter((r) => r !== undefined);
  if (!unique(rids)) problem(['encodings'], 'rids must be unique');
  const payloadTypes = new Set(p.codecs.map((c) => c.payloadType));
  encodings.forEach((e, i) => {
    if (e.codecPayloadType !== undefined && !payloadTypes.has(e.codecPayloadType)) problem(['encodings', i, 'codecPayloadType'], 'must be the payload type of one of the codecs');
  });
});

const FINGERPRINT_BYTES = { 'sha-1': 20, 'sha-224': 28, 'sha-256': 32, 'sha-384': 48, 'sha-512': 64 } as const;

/** A client transport's DTLS side (mediasoup-client's dtlsParameters). */
export const dtlsParameters = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z.array(z.object({
    algorithm: z.enum(Object.keys(FINGERPRINT_BYTES) as [keyof typeof FINGERPRINT_BYTES]),
    value: z.string().regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){19,63}$/, 'must be colon-separated hex bytes'),
  }).strict().refine((f) => (f.value.length + 1) / 3 === FINGERPRINT_BYTES[f.algorithm], 'the value has the wrong length for its algorithm')).min(1).max(8),
}).strict();

/** Application data a client attaches to its producer: a small flat object, kept in memory on the server. */
export const appData = z.record(
  z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'keys are 1-32 letters, digits, "_", "." or "-"'),
  z.union([z.string().max(256), z.number().refine(Number.isFinite, 'must be finite'), z.boolean(), z.null()]),
).refine((d) => Object.keys(d).length <= 16, 'at most 16 keys');
