import type { RetryPolicy, StoredError } from './types.ts';

/**
 * Delay before retry number `attempt` (1 = after the first failure): exponential from
 * baseDelayMs, capped at maxDelayMs, with "equal jitter" (half fixed, half random) so that jobs
 * failing together do not retry together.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * (policy.backoffFactor ?? 2) ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Any thrown value as data that can be stored with the job. */
export function toStoredError(err: unknown, attempt?: number): StoredError {
  if (err instanceof Error) {
    const stored: StoredError = { name: err.name, message: err.message };
    if (err.stack) stored.stack = err.stack.split('\n').slice(0, 12).join('\n');
    if (attempt !== undefined) stored.attempt = attempt;
    return stored;
  }
  return { name: 'NonError', message: typeof err === 'string' ? err : JSON.stringify(err) ?? String(err), ...(attempt !== undefined && { attempt }) };
}
