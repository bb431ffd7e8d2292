import type { RetryPolicy, StoredError } from './types.ts';

/**
 * The one backoff of Nova, for job retries and for retries inside an outbound call alike.
 * Delay before retry number `attempt` (1 = after the first failure): baseDelayMs × factor^(n-1),
 * capped at maxDelayMs, with "equal jitter" (half fixed, half random) so that jobs failing
 * together do not retry together, unless the policy turns jitter off.
 */
export function retryDelayMs(
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'> & Partial<Pick<RetryPolicy, 'factor' | 'jitter'>>,
  attempt: number,
  random = Math.random,
): number {
  const factor = policy.factor ?? 2;
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * factor ** Math.max(0, attempt - 1));
  if (policy.jitter === false) return Math.round(exp);
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Any thrown value as data that can be stored with the job, with its `cause` chain (5 deep). */
export function toStoredError(err: unknown, attempt?: number, depth = 0): StoredError {
  if (err instanceof Error) {
    // A connection failure is an AggregateError of one error per address, with an empty message.
    const first = err instanceof AggregateError && !err.message ? (err.errors[0] as Error | undefined) : undefined;
    const stored: StoredError = { name: err.name, message: err.message || first?.message || '' };
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') stored.code = code;
    if (err.stack) stored.stack = err.stack.split('\n').slice(0, 12).join('\n');
    if (attempt !== undefined) stored.attempt = attempt;
    if (err.cause !== undefined && depth < 5) stored.cause = toStoredError(err.cause, undefined, depth + 1);
    return stored;
  }
  return { name: 'NonError', message: typeof err === 'string' ? err : JSON.stringify(err) ?? String(err), ...(attempt !== undefined && { attempt }) };
}
