import { errors, type types } from 'mediasoup';
import type { Logger } from 'pino';
import { SignalingError } from './protocol.js';

type ChannelOf = { channelForTesting?: { bufferBuilder?: { clear(): void } } };

/**
 * mediasoup 3.27.1 builds every worker request in one FlatBuffers builder per worker channel and does not reset it
 * when building throws half-way (e.g. BigInt(null) for an encoding's maxBitrate): from then on every request and
 * every close() on that worker throws "object serialization must not be nested". Requests are built synchronously,
 * so once a call has failed no build is in progress and resetting the builder is safe.
 */
function resetChannelBuilder(transport: types.Transport): void {
  (transport as unknown as ChannelOf).channelForTesting?.bufferBuilder?.clear();
}

/**
 * Runs a mediasoup call made with client-supplied parameters on `transport`. What mediasoup refuses as the
 * client's mistake becomes a SignalingError; anything else is rethrown as a server bug.
 */
export async function clientCall<T>(transport: types.Transport, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    resetChannelBuilder(transport);
    throw asSignalingError(err, what);
  }
}

/** mediasoup's own error classes say when a failure is the client's: invalid or unsupported input, objects that are gone. */
export function asSignalingError(err: unknown, what: string): unknown {
  if (err instanceof SignalingError) return err;
  if (err instanceof errors.UnsupportedError) return new SignalingError('bad_request', `${what}: not supported by this server: ${err.message}`);
  if (err instanceof TypeError) return new SignalingError('bad_request', `${what}: ${err.message}`);
  if (err instanceof errors.NotFoundError) return new SignalingError('not_found', `${what}: ${err.message}`);
  return err;
}

/** Closes a mediasoup object (or a Peer, a Room) on a close path, where a throw would escape into an event handler. */
export function closeQuietly(target: { close(): void }, log: Logger, what: string): void {
  try {
    target.close();
  } catch (err) {
    log.error({ event: 'close_failed', what, err }, `closing ${what} failed`);
  }
}
