import type { z } from 'zod';
import { retryDelayMs } from '../queue/backoff.ts';
import { Defer, PermanentFailure, RetryLater } from '../queue/errors.ts';
import type { RetryPolicy } from '../queue/types.ts';
import type { Pacer } from './pacer.ts';
import type { Draw, RateLimiter } from './rate-limit.ts';
import { parseRetryAfter, type HeaderSource } from './retry-after.ts';

/**
 * The one outbound-call layer: every call Nova makes to an outside service (Nylas, LLM providers,
 * and later channels, sources and HTTP workflow steps) goes through `Outbound.call`, which
 *
 * - draws from shared rate-limit buckets (RateLimiter: one key per grant / provider), and turns a
 *   429's Retry-After into a block of the bucket for every process;
 * - gives each try its own timeout, combined with the caller's signal (a caller abort stops at
 *   once, retries included);
 * - retries transient faults inside the call with the queue's backoff (`retryDelayMs`): no answer,
 *   connection resets, timeouts, 408/409/425/429/5xx, and 2xx bodies that do not parse;
 * - reports every failure as one `ProviderError`, which `toJobControl` maps to the queue's
 *   control flow, so only permanent errors cost a job attempt.
 */

/** Backoff between tries of one call (the queue's shape, shorter numbers). */
export type Backoff = Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'> & Partial<Pick<RetryPolicy, 'factor' | 'jitter'>>;

export const DEFAULT_CALL_BACKOFF: Backoff = { baseDelayMs: 250, maxDelayMs: 10_000 };

/** Our own codes, next to the provider's error types. */
export type FaultCode = 'timeout' | 'network' | 'invalid_response' | 'rate_limited';

const RETRYABLE_STATUS = new Set([408, 409, 425, 429]);

export interface ProviderErrorInit {
  provider: string;
  /** HTTP status; 0 when there was no answer (network error, timeout). */
  status: number;
  retryAfterMs?: number | undefined;
  /** Default: from the status (0, 408, 409, 425, 429 and 5xx are). */
  retryable?: boolean | undefined;
  requestId?: string | undefined;
  /** The provider's error type or code (`invalid_grant`, `rate_limit_error`), or a FaultCode. */
  code?: string | undefined;
  cause?: unknown;
}

/** An outside service failed a call, or gave no usable answer. */
export class ProviderError extends Error {
  override name = 'ProviderError';
  readonly provider: string;
  readonly status: number;
  readonly retryAfterMs: number | undefined;
  readonly retryable: boolean;
  readonly requestId: string | undefined;
  readonly code: string | undefined;

  constructor(message: string, init: ProviderErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.provider = init.provider;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.retryable = init.retryable ?? (init.status === 0 || RETRYABLE_STATUS.has(init.status) || init.status >= 500);
    this.requestId = init.requestId;
    this.code = init.code;
  }

  /** 401 / 403: the credentials (key, grant) no longer work; retrying will not help. */
  get isAuthFailure(): boolean {
    return this.status === 401 || this.status === 403;
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }

  /** The shared budget is spent (the provider said 429, or our bucket had nothing in time). */
  get isRateLimited(): boolean {
    return this.status === 429 || this.code === 'rate_limited';
  }
}

/** A shared bucket drawn from before each try; `cost` tokens (default 1). */
/** A bucket a call draws from before every try (see RateLimiter.acquireAll). */
export type Budget = Draw;

export interface OutboundOptions {
  /** Names the service in errors: `nylas`, `openai`, ... */
  provider: string;
  /** Shared buckets; without one (a one-off CLI run) calls are not paced. */
  rateLimiter?: RateLimiter | undefined;
  /** Per try, not per call. */
  timeoutMs: number;
  /** Tries after the first, for transient faults, before the error goes to the caller. */
  maxRetries: number;
  backoff?: Backoff;
  /**
   * Longest pause waited inside one call (a Retry-After, or the wait for the shared bucket).
   * Past it the call gives up with a rate-limited ProviderError: the job hands its slot back
   * (Defer) rather than hold it while the whole budget is spent. Default 60 s.
   */
  maxWaitMs?: number;
  /** Optional fixed spacing between tries of this process (API_DELAY_MS). */
  pacer?: Pacer;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  /** Buckets drawn from before every try; a 429 blocks the first one, for every process. */
  budgets?: Budget[];
}

/** One outside service's calls: shared buckets, timeouts, retries, one error type. */
export class Outbound {
  readonly provider: string;
  private readonly backoff: Backoff;
  private readonly maxWaitMs: number;

  constructor(private readonly options: OutboundOptions) {
    this.provider = options.provider;
    this.backoff = options.backoff ?? DEFAULT_CALL_BACKOFF;
    this.maxWaitMs = options.maxWaitMs ?? 60_000;
  }

  /**
   * Runs `attempt` until it succeeds, a permanent error, or the retries run out. `attempt` gets
   * the try's signal (caller + timeout) and throws ProviderError for an answer it cannot use;
   * network errors and timeouts are classified here. Errors of any other kind (a bug) escape
   * untouched and unretried; a caller abort rejects with the signal's reason.
   */
  async call<T>(attempt: (signal: AbortSignal) => Promise<T>, options: CallOptions = {}): Promise<T> {
    const { signal, budgets = [] } = options;
    const { rateLimiter, maxRetries, timeoutMs, pacer } = this.options;
    for (let retry = 0; ; retry++) {
      // The buckets are drawn from together: one round trip for all of them when they have room.
      if (rateLimiter && budgets.length) await this.acquire(rateLimiter, budgets, signal);
      await pacer?.wait(signal);
      const timeout = AbortSignal.timeout(timeoutMs);
      let error: ProviderError;
      try {
        return await attempt(signal ? AbortSignal.any([signal, timeout]) : timeout);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const classified = classify(this.provider, err, timeout.aborted ? timeoutMs : undefined);
        if (!classified) throw err;
        error = classified;
      }
      const pause = error.retryAfterMs ?? retryDelayMs(this.backoff, retry + 1);
      const block = error.status === 429 && rateLimiter && budgets[0];
      // The provider's pause applies to the key, not to this call: every process waits it out.
      if (block) await rateLimiter.block(block.key, block.limit, pause);
      if (!error.retryable || retry >= maxRetries || pause > this.maxWaitMs) {
        // A 429 always says when to come back, even when the provider did not.
        throw error.isRateLimited && error.retryAfterMs === undefined ? withRetryAfter(error, pause) : error;
      }
      if (!block) await sleep(pause, signal);
    }
  }

  /** Waits for the buckets, at most maxWaitMs; past that the budget counts as spent. */
  private async acquire(rateLimiter: RateLimiter, budgets: Budget[], signal: AbortSignal | undefined): Promise<void> {
    const limit = AbortSignal.timeout(this.maxWaitMs);
    try {
      await rateLimiter.acquireAll(budgets, signal ? AbortSignal.any([signal, limit]) : limit);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (!limit.aborted) throw err;
      throw new ProviderError(`${this.provider}: rate limit ${budgets.map((b) => b.key).join(', ')} allowed no call within ${this.maxWaitMs} ms`, {
        provider: this.provider, status: 0, code: 'rate_limited', retryable: true, retryAfterMs: this.maxWaitMs,
      });
    }
  }
}

/** An HTTP answer, read in full. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  requestId: string | undefined;
}

export interface HttpTry {
  provider: string;
  fetch?: typeof fetch;
  /** Header naming the request id; default x-request-id. */
  requestIdHeader?: string;
  /** Reads the provider's error body: its message, type and request id, when it has them. */
  describeError?: (text: string) => { message?: string | undefined; code?: string | undefined; requestId?: string | undefined };
}

/**
 * One HTTP exchange for `Outbound.call`: the whole body of a 2xx answer, or a ProviderError
 * carrying the status, Retry-After and request id of any other.
 */
export async function fetchAnswer(how: HttpTry, url: string, init: RequestInit & { signal: AbortSignal }): Promise<HttpAnswer> {
  const res = await (how.fetch ?? fetch)(url, init);
  // A body cut off mid-way rejects here (TypeError "terminated"): a network fault, retried.
  const text = await res.text();
  let requestId = res.headers.get(how.requestIdHeader ?? 'x-request-id') ?? undefined;
  if (res.status >= 200 && res.status < 300) return { status: res.status, headers: res.headers, text, requestId };
  let described: ReturnType<NonNullable<HttpTry['describeError']>> = {};
  try {
    described = how.describeError?.(text) ?? {};
  } catch {
    // Not the provider's error envelope (a proxy's HTML page, say): the status says enough.
  }
  requestId ??= described.requestId;
  const message = `${how.provider} answered ${res.status}${described.message ? `: ${described.message}` : ''} (request ${requestId ?? 'unknown'})`;
  throw new ProviderError(message, {
    provider: how.provider, status: res.status, retryAfterMs: parseRetryAfter(res.headers), requestId, code: described.code,
  });
}

/**
 * A 2xx body parsed with its schema. A body that is not JSON or not the promised shape (a
 * truncated answer, a proxy's page) is a transient fault of that answer: retried like a 5xx.
 */
export function parseAnswer<T extends z.ZodType>(provider: string, schema: T, answer: Pick<HttpAnswer, 'status' | 'text' | 'requestId'>, what: string): z.infer<T> {
  const fault = (detail: string, requestId: string | undefined) => new ProviderError(
    `${provider}: ${what}: ${detail} (request ${requestId ?? 'unknown'})`,
    { provider, status: answer.status, code: 'invalid_response', retryable: true, requestId },
  );
  let json: unknown;
  try {
    json = JSON.parse(answer.text);
  } catch {
    throw fault(`response is not valid JSON (${answer.text.length} bytes)`, answer.requestId);
  }
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const id = (json as { request_id?: unknown } | null)?.request_id;
  throw fault(`unexpected response shape at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`, typeof id === 'string' ? id : answer.requestId);
}

/** Errors that mean the exchange broke, not that the service refused: worth another try. */
const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

export function isNetworkError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    // undici: "fetch failed" (connect/reset), "terminated" (body cut off); the OpenAI and
    // Anthropic SDKs wrap those in APIConnectionError (and their own timeout in a subclass).
    if (e instanceof TypeError && /^(fetch failed|terminated)$/.test(e.message)) return true;
    if (/^APIConnection(Timeout)?Error$/.test(e.constructor.name)) return true;
  }
  return false;
}

/** A ProviderError for what `attempt` threw, or undefined for an error that is not the service's. */
function classify(provider: string, err: unknown, timedOutMs: number | undefined): ProviderError | undefined {
  // Whatever the try threw once its timeout fired (an SDK's abort error, say) is the timeout.
  if (timedOutMs !== undefined) {
    return new ProviderError(`${provider}: no answer within ${timedOutMs} ms`, { provider, status: 0, code: 'timeout', cause: err });
  }
  if (err instanceof ProviderError) return err;
  if (isNetworkError(err)) {
    return new ProviderError(`${provider}: ${causeChain(err)}`, { provider, status: 0, code: 'network', cause: err });
  }
  return undefined;
}

/** "fetch failed: read ECONNRESET": the wrapper's message says little without its causes. */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) parts.push(e.message);
  return parts.join(': ') || String(err);
}

function withRetryAfter(e: ProviderError, ms: number): ProviderError {
  return new ProviderError(e.message, {
    provider: e.provider, status: e.status, retryAfterMs: ms, retryable: e.retryable, requestId: e.requestId, code: e.code, cause: e.cause,
  });
}

/** Sleeps, or rejects with the signal's reason (a JobCancelled, say) as soon as it aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * What a job should do about an error from an outbound call. A ProviderError reaching a handler
 * has used up its retries inside the call (or was never retryable):
 * - permanent (400, 401, 403, 404, 422, ...): PermanentFailure, no attempt will fix it (a domain
 *   that handles one, like Nylas 401/403 → inbox auth_expired, does so before calling this);
 * - rate limited (429, or the shared bucket had nothing in time): Defer, the job is waiting for
 *   budget, not failing, so it keeps its attempts;
 * - other transient faults: RetryLater after the provider's Retry-After when it sent one, else
 *   the error itself, which the queue retries with its own policy (`retryDelayMs`, the same
 *   backoff, with the queue's base and factor that a handler does not know).
 * Anything else is returned as it is.
 */
export function toJobControl(err: unknown): unknown {
  if (!(err instanceof ProviderError)) return err;
  if (!err.retryable) return new PermanentFailure(err.message, { cause: err });
  if (err.isRateLimited) return new Defer(err.retryAfterMs ?? DEFAULT_CALL_BACKOFF.maxDelayMs, err.message, { cause: err });
  if (err.retryAfterMs !== undefined) return new RetryLater(err.retryAfterMs, err.message, { cause: err });
  return err;
}
