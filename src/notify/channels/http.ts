import type { AddressGuard } from '../../runtime/address-guard.ts';
import { fetchAnswer, Outbound, ProviderError, type HttpAnswer, type HttpTry } from '../../runtime/outbound.ts';
import type { RateLimiter } from '../../runtime/rate-limit.ts';
import { PermanentDeliveryError } from './types.ts';

export interface ChannelHttpOptions {
  describeError?: HttpTry['describeError'];
  rateLimiter?: RateLimiter;
  /** The SSRF guard, for calls whose URL comes from subscriber data (chat webhooks, push endpoints). */
  guard?: AddressGuard | undefined;
}

/**
 * One outbound HTTP call of a channel, through the shared outbound layer (timeouts, error
 * classification, the address guard). Retries are the delivery step's, so none here; a
 * non-retryable provider answer (a 4xx, a refused address) becomes PermanentDeliveryError whose
 * cause is the ProviderError.
 */
export function channelHttp(provider: string, timeoutMs: number, options: ChannelHttpOptions = {}) {
  const outbound = new Outbound({ provider, timeoutMs, maxRetries: 0, rateLimiter: options.rateLimiter });
  const how: HttpTry = {
    provider,
    ...(options.describeError && { describeError: options.describeError }),
    ...(options.guard && { fetch: options.guard.fetch(provider) }),
  };
  return async (url: string, init: { method: string; headers: Record<string, string>; body: string | Uint8Array<ArrayBuffer> }, signal: AbortSignal): Promise<HttpAnswer> => {
    try {
      return await outbound.call((s) => fetchAnswer(how, url, { ...init, signal: s }), { signal });
    } catch (err) {
      if (err instanceof ProviderError && !err.retryable) throw new PermanentDeliveryError(err.message, { cause: err });
      throw err;
    }
  };
}

/** The provider's HTTP status behind a PermanentDeliveryError of channelHttp (404, 410, ...), if any. */
export function refusedStatus(err: unknown): number | undefined {
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause instanceof ProviderError ? cause.status : undefined;
}
