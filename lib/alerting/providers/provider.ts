import type { AlertEvent } from '../state-machine.js';

/** Where alerts go. send() resolves once the destination accepted the alert and throws otherwise. */
export interface AlertProvider {
  readonly name: string;
  send(event: AlertEvent): Promise<void>;
}

/** A send failure whose message never contains the (secret) destination URL; retryAfterMs when it asked to wait (429). */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
  }
}
