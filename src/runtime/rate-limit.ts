import type { Sql } from '../storage/index.ts';

export interface RateLimit {
  /** Bucket size: how many requests may go at once after a quiet spell. */
  capacity: number;
  /** Steady refill rate. */
  perSecond: number;
}

/**
 * Distributed token buckets keyed by any string (one per Nylas grant, say), kept in the database
 * so that every process and replica draws from the same bucket.
 */
export class RateLimiter {
  constructor(private readonly sql: Sql) {}

  /** Waits until `cost` tokens are taken from `key`'s bucket. Rejects if `signal` aborts first. */
  async acquire(key: string, limit: RateLimit, options: { cost?: number; signal?: AbortSignal } = {}): Promise<void> {
    const cost = options.cost ?? 1;
    if (cost > limit.capacity) throw new RangeError(`cost ${cost} exceeds the bucket capacity ${limit.capacity}`);
    for (;;) {
      options.signal?.throwIfAborted();
      const waitMs = await this.tryTake(key, limit, cost);
      if (waitMs === 0) return;
      await sleep(waitMs, options.signal);
    }
  }

  /** Takes `cost` tokens if there are enough and returns 0, else returns the ms to wait. */
  async tryTake(key: string, limit: RateLimit, cost = 1): Promise<number> {
    const [row] = await this.sql.query<{ wait: number }>('select nova_rate_take($1, $2, $3, $4) as wait', [
      key, limit.capacity, limit.perSecond, cost,
    ]);
    return row!.wait;
  }

  /** Empties `key`'s bucket for `ms` (a provider's Retry-After), for every process at once. */
  async block(key: string, limit: RateLimit, ms: number): Promise<void> {
    await this.sql.query('select nova_rate_block($1, $2, $3, $4)', [key, limit.capacity, limit.perSecond, ms]);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
