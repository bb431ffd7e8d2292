import { PermanentFailure } from '../queue/errors.ts';
import type { Services } from '../runtime/domain.ts';
import type { EmailConfig } from './config.ts';
import { ProviderError } from '../runtime/outbound.ts';
import { NylasClient } from './nylas/client.ts';
import { setInboxStatus } from './store.ts';

/** The process's Nylas client, built once by the domain's setup; none without NYLAS_API_KEY. */
export function createNylasClient(config: EmailConfig, services: Services): NylasClient | undefined {
  if (!config.NYLAS_API_KEY) return undefined;
  return new NylasClient({
    apiKey: config.NYLAS_API_KEY,
    apiUri: config.NYLAS_API_URI,
    rateLimiter: services.rateLimiter,
    rateLimit: { capacity: config.NYLAS_RATE_LIMIT_BURST, perSecond: config.NYLAS_RATE_LIMIT_PER_SECOND },
    timeoutMs: config.NYLAS_TIMEOUT_MS,
    maxRetries: config.NYLAS_MAX_RETRIES,
    minSpacingMs: config.API_DELAY_MS,
    messageSpacingMs: config.MESSAGE_DELAY_MS,
  });
}

/**
 * Runs provider calls for one grant and handles the failure that is the email domain's own: a
 * grant that answers 401/403 marks its inbox `auth_expired` and fails for good. Other
 * ProviderErrors go to the caller as they are (it may handle a 404 or a 400 itself), which maps
 * the rest with `toJobControl`.
 */
export async function withGrant<T>(
  deps: { services: Services; nylas: NylasClient | undefined },
  grantId: string,
  fn: (client: NylasClient) => Promise<T>,
): Promise<T> {
  if (!deps.nylas) throw new PermanentFailure('NYLAS_API_KEY is not set: Nova cannot call Nylas');
  try {
    return await fn(deps.nylas);
  } catch (err) {
    if (err instanceof ProviderError && err.isAuthFailure) {
      await setInboxStatus(deps.services.sql, grantId, 'auth_expired', err.message);
      throw new PermanentFailure(`grant ${grantId} is no longer authorized: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
