import { request } from 'undici';
import { DeliveryError } from './provider.js';

/** POST a JSON body; any non-2xx answer or network error is a DeliveryError naming the provider, not the URL. */
export async function postJson(provider: string, url: string, body: unknown, timeoutMs: number, headers: Record<string, string> = {}): Promise<void> {
  let status: number;
  let text: string;
  try {
    const res = await request(url, {
      method: 'POST',
      reset: true,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.statusCode;
    text = (await res.body.text()).slice(0, 200);
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as Error).name;
    throw new DeliveryError(`${provider}: could not deliver (${code})`);
  }
  if (status < 200 || status >= 300) throw new DeliveryError(`${provider}: HTTP ${status}${text === '' ? '' : `: ${text}`}`);
}
