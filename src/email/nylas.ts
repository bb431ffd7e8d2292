import { PermanentFailure } from '../queue/errors.ts';
import type { Services } from '../runtime/domain.ts';
import { ProviderError } from '../runtime/outbound.ts';
import { NylasClient } from './nylas/client.ts';
import { setInboxStatus } from './store.ts';

const clients = new WeakMap<Services, NylasClient>();

/** The process's Nylas client, built once from config (NYLAS_API_KEY, NYLAS_API_URI, limits). */
export function nylasClient(services: Services): NylasClient {
  let client = clients.get(services);
  if (!client) {
    const c = services.config;
    if (!c.NYLAS_API_KEY) throw new PermanentFailure('NYLAS_API_KEY is not set: Nova cannot call Nylas');
    client = new NylasClient({
      apiKey: c.NYLAS_API_KEY,
      apiUri: c.NYLAS_API_URI,
      rateLimiter: services.rateLimiter,
      rateLimit: { capacity: c.NYLAS_RATE_LIMIT_BURST, perSecond: c.NYLAS_RATE_LIMIT_PER_SECOND },
      timeoutMs: c.NYLAS_TIMEOUT_MS,
      maxRetries: c.NYLAS_MAX_RETRIES,
      minSpacingMs: c.API_DELAY_MS,
      messageSpacingMs: c.MESSAGE_DELAY_MS,
    });
    clients.set(services, client);
  }
  return client;
}

/**
 * Runs provider calls for one grant and handles the failure that is the email domain's own: a
 * grant that answers 401/403 marks its inbox `auth_expired` and fails for good. Other
 * ProviderErrors go to the caller as they are (it may handle a 404 or a 400 itself), which maps
 * the rest with `toJobControl`.
 */
export async function withGrant<T>(services: Services, grantId: string, fn: (client: NylasClient) => Promise<T>): Promise<T> {
  try {
    return await fn(nylasClient(services));
  } catch (err) {
    if (err instanceof ProviderError && err.isAuthFailure) {
      await setInboxStatus(services.sql, grantId, 'auth_expired', err.message);
      throw new PermanentFailure(`grant ${grantId} is no longer authorized: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
