/**
 * What happens to a request before the mailbox sees it: injected failures, the per-grant rate
 * limit and random faults, plus the counters stats() reports. Random decisions come from a PRNG
 * seeded with the emulator seed, so the same request sequence meets the same faults.
 */
import { hash32, seededRandom } from './generate.ts';
import type { FaultOptions } from './options.ts';

/** A failure to answer with, decided before routing. */
export interface Failure {
  status: number;
  retryAfterSeconds?: number;
}

/**
 * The verdict for one request. `hang` never answers; `reset` drops the connection before any
 * answer; `truncate` cuts a successful body; `resetMidBody` sends the headers and part of the
 * body of whatever the answer is, then resets the connection.
 */
export type Verdict =
  | { kind: 'fail'; failure: Failure }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'pass'; truncate: boolean; resetMidBody: boolean };

export interface InjectedFailure {
  status: number;
  count?: number;
  retryAfterSeconds?: number;
  pathIncludes?: string;
}

/** Faults by kind; `faults` in TrafficStats is their sum. */
export interface FaultCounts {
  /** Answered with a failure from injectFailures. */
  injected: number;
  /** 500/503 at the error rate. */
  errors: number;
  /** 429 with Retry-After at the throttle rate (the rate limit is counted in `rateLimited`). */
  throttled: number;
  /** Never answered. */
  hangs: number;
  /** Successful bodies cut in half. */
  truncated: number;
  /** Connections reset, before an answer or part-way through its body. */
  resets: number;
}

export interface TrafficStats {
  requests: number;
  byGrant: Record<string, number>;
  rateLimited: number;
  faults: number;
  byKind: FaultCounts;
}

interface Bucket {
  tokens: number;
  refilledAt: number;
}

export class TrafficControl {
  private faults: FaultOptions;
  private ratePerSecond: number | undefined;
  private buckets = new Map<string, Bucket>();
  private injected: Array<Required<Omit<InjectedFailure, 'pathIncludes'>> & { pathIncludes?: string }> = [];
  private readonly random: () => number;
  private counters: TrafficStats = {
    requests: 0, byGrant: {}, rateLimited: 0, faults: 0, byKind: { injected: 0, errors: 0, throttled: 0, hangs: 0, truncated: 0, resets: 0 },
  };

  constructor(seed: number, faults: FaultOptions, ratePerSecond: number | undefined, private readonly now: () => number = () => performance.now()) {
    this.faults = faults;
    this.ratePerSecond = ratePerSecond;
    this.random = seededRandom(hash32(seed, 'faults'));
  }

  get latencyMs(): number {
    return this.faults.latencyMs ?? 0;
  }

  setFaults(faults: FaultOptions): void {
    this.faults = faults;
  }

  /** Changing the rate starts every grant with a full bucket. */
  setRateLimit(perSecond: number | undefined): void {
    if (perSecond !== undefined && !(perSecond > 0)) throw new RangeError('rate limit must be a positive number of requests per second');
    this.ratePerSecond = perSecond;
    this.buckets.clear();
  }

  inject(spec: InjectedFailure): void {
    if (!Number.isInteger(spec.status) || spec.status < 400 || spec.status > 599) throw new RangeError('injected status must be 4xx or 5xx');
    const count = spec.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new RangeError('injected count must be a positive integer');
    this.injected.push({
      status: spec.status,
      count,
      retryAfterSeconds: Math.max(1, Math.ceil(spec.retryAfterSeconds ?? 1)),
      ...(spec.pathIncludes !== undefined && { pathIncludes: spec.pathIncludes }),
    });
  }

  stats(): TrafficStats {
    return { ...this.counters, byGrant: { ...this.counters.byGrant }, byKind: { ...this.counters.byKind } };
  }

  /** Decides one API request's fate; `grantId` is undefined for paths outside a grant. */
  admit(path: string, grantId: string | undefined): Verdict {
    this.counters.requests++;
    if (grantId !== undefined) this.counters.byGrant[grantId] = (this.counters.byGrant[grantId] ?? 0) + 1;

    const injected = this.injected.find((spec) => spec.pathIncludes === undefined || path.includes(spec.pathIncludes));
    if (injected) {
      if (--injected.count === 0) this.injected.splice(this.injected.indexOf(injected), 1);
      this.count('injected');
      const failure: Failure = { status: injected.status };
      if (injected.status === 429) failure.retryAfterSeconds = injected.retryAfterSeconds;
      return { kind: 'fail', failure };
    }

    const wait = this.takeToken(grantId ?? '');
    if (wait !== undefined) {
      this.counters.rateLimited++;
      return { kind: 'fail', failure: { status: 429, retryAfterSeconds: wait } };
    }

    // One draw per knob, always in the same order, keeps the fault sequence reproducible.
    const error = this.random() < (this.faults.errorRate ?? 0);
    const pick500 = this.random() < 0.2;
    const hang = this.random() < (this.faults.timeoutRate ?? 0);
    const truncate = this.random() < (this.faults.truncateRate ?? 0);
    const reset = this.random() < (this.faults.resetRate ?? 0);
    const resetEarly = this.random() < 0.5;
    const throttle = this.random() < (this.faults.throttleRate ?? 0);
    if (error) {
      this.count('errors');
      return { kind: 'fail', failure: { status: pick500 ? 500 : 503 } };
    }
    if (throttle) {
      this.count('throttled');
      return { kind: 'fail', failure: { status: 429, retryAfterSeconds: 1 } };
    }
    if (hang) {
      this.count('hangs');
      return { kind: 'hang' };
    }
    if (reset) {
      this.count('resets');
      if (resetEarly) return { kind: 'reset' };
    }
    return { kind: 'pass', truncate: truncate && !reset, resetMidBody: reset };
  }

  /** Counts a truncation once the response really was a success. */
  countTruncation(): void {
    this.count('truncated');
  }

  private count(kind: keyof FaultCounts): void {
    this.counters.byKind[kind]++;
    this.counters.faults++;
  }

  /** Takes a token from the grant's bucket; returns whole seconds to wait when it is empty. */
  private takeToken(key: string): number | undefined {
    const rate = this.ratePerSecond;
    if (rate === undefined) return undefined;
    const capacity = Math.max(1, rate);
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: capacity, refilledAt: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.refilledAt) / 1000) * rate);
    bucket.refilledAt = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
  }
}
