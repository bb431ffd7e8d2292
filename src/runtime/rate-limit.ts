import type { Sql } from '../storage/index.ts';

export interface RateLimit {
  /** Bucket size: how many requests may go at once after a quiet spell. */
  capacity: number;
  /** Steady refill rate. */
  perSecond: number;
}

/**
 * Tokens taken from the shared bucket but not spent yet are kept by the process for at most this
 * long, then dropped (never handed back: the shared limit is never exceeded). A process takes
 * this long's worth of tokens per round trip (waiting for that many when the bucket is low), so
 * at high rates it asks the database once per batch of calls instead of once per call; at low
 * rates (under 100/s) it takes one at a time, as before.
 */
const RESERVE_MS = 20;

interface Reserve {
  tokens: number;
  expiresAt: number;
}

/**
 * Distributed token buckets keyed by any string (one per Nylas grant, say), kept in the database
 * so that every process and replica draws from the same bucket.
 */
export class RateLimiter {
  private readonly reserves = new Map<string, Reserve>();
  /** One reservation round trip per key at a time; callers arriving meanwhile wait for it. */
  private readonly refilling = new Map<string, Promise<void>>();

  constructor(private readonly sql: Sql) {}

  /** Waits until `cost` tokens are taken from `key`'s bucket. Rejects if `signal` aborts first. */
  async acquire(key: string, limit: RateLimit, options: { cost?: number; signal?: AbortSignal } = {}): Promise<void> {
    const cost = options.cost ?? 1;
    if (cost > limit.capacity) throw new RangeError(`cost ${cost} exceeds the bucket capacity ${limit.capacity}`);
    const batch = Math.max(cost, Math.min(limit.capacity, Math.floor((limit.perSecond * RESERVE_MS) / 1000)));
    for (;;) {
      options.signal?.throwIfAborted();
      if (this.spend(key, cost)) return;
      let refill = this.refilling.get(key);
      if (!refill) {
        // One caller per key goes to the database, waiting there until a batch is free; the
        // others wait for that batch instead of all asking at once.
        refill = this.refill(key, limit, batch).finally(() => this.refilling.delete(key));
        this.refilling.set(key, refill);
      }
      await abortable(refill, options.signal);
    }
  }

  private async refill(key: string, limit: RateLimit, batch: number): Promise<void> {
    for (;;) {
      const waitMs = await this.take(key, limit, batch);
      if (waitMs === 0) {
        this.reserves.set(key, { tokens: batch, expiresAt: Date.now() + RESERVE_MS });
        return;
      }
      // Not tied to one caller's signal (others wait on this refill); unref'd so it never holds
      // a stopping process open.
      await new Promise((resolve) => setTimeout(resolve, waitMs).unref());
    }
  }

  /** Takes `cost` tokens if there are enough and returns 0, else returns the ms to wait. */
  async tryTake(key: string, limit: RateLimit, cost = 1): Promise<number> {
    return this.spend(key, cost) ? 0 : this.take(key, limit, cost);
  }

  /** Empties `key`'s bucket for `ms` (a provider's Retry-After), for every process at once. */
  async block(key: string, limit: RateLimit, ms: number): Promise<void> {
    this.reserves.delete(key);
    await this.sql.query('select nova_rate_block($1, $2, $3, $4)', [key, limit.capacity, limit.perSecond, ms]);
  }

  private async take(key: string, limit: RateLimit, cost: number): Promise<number> {
    const [row] = await this.sql.query<{ wait: number }>('select nova_rate_take($1, $2, $3, $4) as wait', [
      key, limit.capacity, limit.perSecond, cost,
    ]);
    return row!.wait;
  }

  /** Spends reserved tokens of this process, if enough are left and still fresh. */
  private spend(key: string, cost: number): boolean {
    const reserve = this.reserves.get(key);
    if (!reserve) return false;
    if (reserve.expiresAt < Date.now()) {
      this.reserves.delete(key);
      return false;
    }
    if (reserve.tokens < cost) return false;
    reserve.tokens -= cost;
    return true;
  }
}

/** Waits for `promise`, or rejects as soon as `signal` aborts (the promise itself carries on). */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e: unknown) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}
