import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { parseRetryAfter } from '../delivery.js';
import { DeliveryError } from './provider.js';

/**
 * POST a JSON body; any non-2xx answer or network error is a DeliveryError naming the provider, not the URL. A 429 or
 * 503 with Retry-After carries the wait it asked for.
 */
export async function postJson(provider: string, url: string, body: unknown, timeoutMs: number, headers: Record<string, string> = {}, dispatcher?: Dispatcher): Promise<void> {
  let status: number;
  let text: string;
  let retryAfter: string | string[] | undefined;
  try {
    const res = await request(url, {
      method: 'POST',
      reset: true,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
    status = res.statusCode;
    retryAfter = res.headers['retry-after'];
    text = (await res.body.text()).slice(0, 200);
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as Error).name;
    throw new DeliveryError(`${provider}: could not deliver (${code})`);
  }
  if (status < 200 || status >= 300) {
    const wait = status === 429 || status === 503 ? parseRetryAfter(retryAfter) : undefined;
    throw new DeliveryError(`${provider}: HTTP ${status}${text === '' ? '' : `: ${text}`}${wait === undefined ? '' : ` (retry after ${Math.round(wait / 1000)} s)`}`, wait);
  }
}

/** An HTTP client that trusts `caFile` besides the system CAs (a private CA in front of a webhook or heartbeat URL). */
export function trustingClient(caFile: string): Dispatcher {
  return new Agent({ connect: { ca: [...rootCertificates, readFileSync(caFile, 'utf8')] } });
}
