import { fetchAnswer, Outbound, ProviderError, type HttpAnswer, type HttpTry } from '../../runtime/outbound.ts';
import type { RateLimiter } from '../../runtime/rate-limit.ts';
import { PermanentDeliveryError } from './types.ts';

/**
 * One outbound HTTP call of a channel, through the shared outbound layer (timeouts, error
 * classification). Retries are the delivery step's, so none here; a non-retryable provider
 * answer (a 4xx) becomes PermanentDeliveryError.
 */
export function channelHttp(provider: string, timeoutMs: number, describeError?: HttpTry['describeError'], rateLimiter?: RateLimiter) {
  const outbound = new Outbound({ provider, timeoutMs, maxRetries: 0, rateLimiter });
  return async (url: string, init: { method: string; headers: Record<string, string>; body: string }, signal: AbortSignal): Promise<HttpAnswer> => {
    try {
      return await outbound.call((s) => fetchAnswer({ provider, ...(describeError && { describeError }) }, url, { ...init, signal: s }), { signal });
    } catch (err) {
      if (err instanceof ProviderError && !err.retryable) throw new PermanentDeliveryError(err.message, { cause: err });
      throw err;
    }
  };
}
