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

/** One draw from a bucket: `cost` tokens (default 1) from `key`, which refills at `limit`. */
export interface Draw {
  key: string;
  limit: RateLimit;
  cost?: number;
}

const RATE_TAKE = `
  with cfg as materialized (select set_config('synchronous_commit', 'off', true))
  select d.i, nova_rate_take(d.key, d.capacity, d.per_second, d.cost) as wait
  from cfg, unnest($1::int[], $2::text[], $3::float8[], $4::float8[], $5::float8[]) with ordinality
    as d(i, key, capacity, per_second, cost, ord)
  order by d.ord`;

/** Tokens taken per round trip: RESERVE_MS's worth at the bucket's rate, at least the cost. */
function batchOf(limit: RateLimit, cost: number): number {
  if (cost > limit.capacity) throw new RangeError(`cost ${cost} exceeds the bucket capacity ${limit.capacity}`);
  return Math.max(cost, Math.min(limit.capacity, Math.floor((limit.perSecond * RESERVE_MS) / 1000)));
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
    const batch = batchOf(limit, cost);
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

  /**
   * Waits until every draw is taken (a model call's requests and tokens, say). Draws that the
   * process's reserves do not cover go to the database together, one round trip for all; only a
   * bucket that is short then waits on its own, as `acquire` does.
   */
  async acquireAll(draws: readonly Draw[], signal?: AbortSignal): Promise<void> {
    const batches = new Map(draws.map((d) => [d, batchOf(d.limit, d.cost ?? 1)]));
    const missing = draws.filter((d) => !this.spend(d.key, d.cost ?? 1));
    let short = missing;
    if (missing.length > 1 && missing.every((d) => !this.refilling.has(d.key))) {
      signal?.throwIfAborted();
      const waits = await this.takeMany(missing.map((d) => ({ key: d.key, limit: d.limit, cost: batches.get(d)! })));
      const expiresAt = Date.now() + RESERVE_MS;
      short = missing.filter((d, i) => {
        if (waits[i] !== 0) return true;
        this.reserves.set(d.key, { tokens: batches.get(d)! - (d.cost ?? 1), expiresAt });
        return false;
      });
    }
    await Promise.all(short.map((d) => this.acquire(d.key, d.limit, { cost: d.cost ?? 1, ...(signal && { signal }) })));
  }

  private async take(key: string, limit: RateLimit, cost: number): Promise<number> {
    return (await this.takeMany([{ key, limit, cost }]))[0]!;
  }

  /**
   * One statement drawing from several buckets (in key order, so two callers never lock the same
   * rows in opposite orders). It commits without waiting for the WAL flush: a draw lost to a
   * server crash only leaves its bucket a little fuller, as a bucket is a limit, not a record.
   */
  private async takeMany(draws: readonly { key: string; limit: RateLimit; cost: number }[]): Promise<number[]> {
    const order = draws.map((_, i) => i).sort((a, b) => (draws[a]!.key < draws[b]!.key ? -1 : draws[a]!.key > draws[b]!.key ? 1 : 0));
    const rows = await this.sql.query<{ i: number; wait: number }>(RATE_TAKE, [
      order, order.map((i) => draws[i]!.key), order.map((i) => draws[i]!.limit.capacity), order.map((i) => draws[i]!.limit.perSecond), order.map((i) => draws[i]!.cost),
    ]);
    const waits = new Array<number>(draws.length);
    for (const r of rows) waits[r.i] = r.wait;
    return waits;
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
