import type { AlertEvent } from '../state-machine.js';
import type { Dispatcher } from 'undici';
import { postJson } from './http-post.js';
import type { AlertProvider } from './provider.js';

/** Any HTTP endpoint: the alert event as JSON, with an optional bearer token. */
export class WebhookProvider implements AlertProvider {
  readonly name = 'webhook';
  constructor(private readonly url: string, private readonly bearerToken?: string, private readonly timeoutMs = 10_000, private readonly dispatcher?: Dispatcher) {}

  send(event: AlertEvent): Promise<void> {
    const headers: Record<string, string> = this.bearerToken === undefined ? {} : { authorization: `Bearer ${this.bearerToken}` };
    return postJson(this.name, this.url, { source: 'rtcops-health', ...event }, this.timeoutMs, headers, this.dispatcher);
  }
}
