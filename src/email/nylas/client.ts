import { setTimeout as delay } from 'node:timers/promises';
import type { z } from 'zod';
import { Pacer } from '../../runtime/pacer.ts';
import type { RateLimit, RateLimiter } from '../../runtime/rate-limit.ts';
import * as wire from './wire.ts';

/**
 * A small typed client for the Nylas v3 endpoints Nova uses, rather than the official SDK: every
 * call must pass the per-grant distributed rate limiter, honour Retry-After, retry 5xx and
 * timeouts, validate the response and keep the request id on errors — the SDK does none of this
 * (and its list iterator fetches the first page twice). The emulator test drives the SDK to prove
 * the wire format is the real one.
 */

export interface NylasClientOptions {
  apiKey: string;
  /** Base URI without a trailing slash, e.g. https://api.us.nylas.com or the emulator's URL. */
  apiUri: string;
  rateLimiter: RateLimiter;
  /** Per grant, shared by every process through the database. */
  rateLimit: RateLimit;
  timeoutMs?: number;
  /** Retries of one call after 429, 5xx or a timeout, before the error goes to the caller. */
  maxRetries?: number;
  /** Smallest gap between calls of this process (API_DELAY_MS); 0 = none. */
  minSpacingMs?: number;
  /** Optional minimum gap between message requests of this client (MESSAGE_DELAY_MS). */
  messageSpacingMs?: number;
  fetch?: typeof fetch;
}

/** The provider answered with an error. `retryAfterMs` is set when it is worth trying later. */
export class NylasApiError extends Error {
  override name = 'NylasApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly type: string | undefined,
    readonly requestId: string | undefined,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
  /** 401 / 403: the grant no longer works; retrying will not help until it is re-authenticated. */
  get isAuthFailure(): boolean {
    return this.status === 401 || this.status === 403;
  }
  get isNotFound(): boolean {
    return this.status === 404;
  }
}

/** The provider answered 2xx with a body that is not what the API promises (truncated, wrong shape). */
export class NylasResponseError extends Error {
  override name = 'NylasResponseError';
  constructor(message: string, readonly requestId: string | undefined) {
    super(message);
  }
}

export interface ListThreadsQuery {
  limit?: number;
  pageToken?: string;
  /** Unix seconds, compared with the thread's latest received message. */
  latestMessageAfter?: number;
  latestMessageBefore?: number;
  in?: string;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
  requestId: string | undefined;
}

const MESSAGE_PAGE = 200;

export class NylasClient {
  private readonly fetch: typeof fetch;
  /** Optional minimum spacing between calls (API_DELAY_MS), kept for teams that want it. */
  private readonly pacer: Pacer;
  private readonly messagePacer: Pacer;

  constructor(private readonly options: NylasClientOptions) {
    this.fetch = options.fetch ?? fetch;
    this.pacer = new Pacer(options.minSpacingMs ?? 0);
    this.messagePacer = new Pacer(options.messageSpacingMs ?? 0);
  }

  getGrant(grantId: string, signal?: AbortSignal): Promise<wire.Grant> {
    return this.single(grantId, '', wire.grant, {}, signal);
  }

  listThreads(grantId: string, query: ListThreadsQuery = {}, signal?: AbortSignal): Promise<Page<wire.Thread>> {
    return this.page(grantId, '/threads', wire.thread, {
      limit: query.limit ?? 50,
      page_token: query.pageToken,
      latest_message_after: query.latestMessageAfter,
      latest_message_before: query.latestMessageBefore,
      in: query.in,
    }, signal);
  }

  getThread(grantId: string, threadId: string, signal?: AbortSignal): Promise<wire.Thread> {
    return this.single(grantId, `/threads/${encodeURIComponent(threadId)}`, wire.thread, {}, signal);
  }

  /** Every message of a thread, following next_cursor to the end. */
  async listThreadMessages(grantId: string, threadId: string, signal?: AbortSignal): Promise<wire.Message[]> {
    const all: wire.Message[] = [];
    let pageToken: string | undefined;
    do {
      await this.messagePacer.wait(signal);
      const page = await this.page(grantId, '/messages', wire.message, {
        thread_id: threadId, limit: MESSAGE_PAGE, page_token: pageToken,
      }, signal);
      all.push(...page.data);
      pageToken = page.nextCursor ?? undefined;
    } while (pageToken);
    return all;
  }

  async getMessage(grantId: string, messageId: string, signal?: AbortSignal): Promise<wire.Message> {
    await this.messagePacer.wait(signal);
    return this.single(grantId, `/messages/${encodeURIComponent(messageId)}`, wire.message, { fields: 'include_headers' }, signal);
  }

  private async single<T extends z.ZodType>(grantId: string, path: string, schema: T, query: Query, signal?: AbortSignal): Promise<z.infer<T>> {
    const { body, requestId } = await this.call(grantId, path, query, signal);
    return (parse(wire.singleEnvelope(schema), body, requestId, path) as { data: z.infer<T> }).data;
  }

  private async page<T extends z.ZodType>(grantId: string, path: string, schema: T, query: Query, signal?: AbortSignal): Promise<Page<z.infer<T>>> {
    const { body, requestId } = await this.call(grantId, path, query, signal);
    const env = parse(wire.listEnvelope(schema), body, requestId, path) as { data: z.infer<T>[]; next_cursor?: string | null; request_id?: string | null };
    return { data: env.data, nextCursor: env.next_cursor ?? null, requestId: env.request_id ?? requestId };
  }

  /** One API call with rate limiting and retries; returns the raw JSON text of a 2xx answer. */
  private async call(grantId: string, path: string, query: Query, signal?: AbortSignal): Promise<{ body: string; requestId: string | undefined }> {
    const { rateLimiter, rateLimit, maxRetries = 3 } = this.options;
    const url = this.url(grantId, path, query);
    const bucket = `nylas:${grantId}`;
    for (let attempt = 0; ; attempt++) {
      await rateLimiter.acquire(bucket, rateLimit, signal ? { signal } : {});
      await this.pacer.wait(signal);
      let error: NylasApiError;
      try {
        const res = await this.request(url, signal);
        if (res.status < 300) return res;
        error = toApiError(res.status, res.body, res.requestId, res.retryAfterMs);
      } catch (err) {
        if (signal?.aborted || !(err instanceof TimeoutError)) throw err;
        error = new NylasApiError(`${path}: no answer within ${this.options.timeoutMs ?? 30_000} ms`, 504, 'timeout', undefined);
      }
      const retryable = error.status === 429 || error.status >= 500;
      if (!retryable || attempt >= maxRetries) {
        // A 429 always says when to come back, even when the provider did not.
        throw error.status === 429 && error.retryAfterMs === undefined ? withRetryAfter(error, backoffMs(attempt + 1)) : error;
      }
      if (error.status === 429) {
        // The provider's pause applies to the grant, so every process waits it out, not just this one.
        const pause = error.retryAfterMs ?? backoffMs(attempt);
        await rateLimiter.block(bucket, rateLimit, pause);
      } else {
        await delay(backoffMs(attempt), undefined, signal ? { signal } : {});
      }
    }
  }

  private async request(url: string, signal?: AbortSignal) {
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 30_000);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const res = await this.fetch(url, {
        headers: { authorization: `Bearer ${this.options.apiKey}`, accept: 'application/json' },
        signal: combined,
      });
      const body = await res.text();
      const retryAfter = Number(res.headers.get('retry-after'));
      return {
        status: res.status,
        body,
        requestId: res.headers.get('x-request-id') ?? undefined,
        retryAfterMs: Number.isFinite(retryAfter) && retryAfter >= 0 && res.headers.has('retry-after') ? retryAfter * 1000 : undefined,
      };
    } catch (err) {
      if (timeout.aborted && !signal?.aborted) throw new TimeoutError();
      throw err;
    }
  }

  private url(grantId: string, path: string, query: Query): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return `${this.options.apiUri}/v3/grants/${encodeURIComponent(grantId)}${path}${qs ? `?${qs}` : ''}`;
  }
}

type Query = Record<string, string | number | undefined>;

class TimeoutError extends Error {}

function parse<T extends z.ZodType>(schema: T, body: string, requestId: string | undefined, path: string): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new NylasResponseError(`${path}: response is not valid JSON (${body.length} bytes, request ${requestId ?? 'unknown'})`, requestId);
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const id = (json as { request_id?: string } | null)?.request_id ?? requestId;
    const issue = result.error.issues[0];
    throw new NylasResponseError(
      `${path}: unexpected response shape at ${issue?.path.join('.') || '(root)'}: ${issue?.message} (request ${id ?? 'unknown'})`, id,
    );
  }
  return result.data;
}

function toApiError(status: number, body: string, requestId: string | undefined, retryAfterMs: number | undefined): NylasApiError {
  let type: string | undefined;
  let message = `Nylas answered ${status}`;
  try {
    const env = wire.errorEnvelope.parse(JSON.parse(body));
    type = env.error.type ?? undefined;
    if (env.error.message) message = `${message}: ${env.error.message}`;
    requestId ??= env.request_id ?? undefined;
  } catch {
    // Not an error envelope (a proxy's HTML page, say): the status says enough.
  }
  return new NylasApiError(`${message} (request ${requestId ?? 'unknown'})`, status, type, requestId, retryAfterMs);
}

function withRetryAfter(e: NylasApiError, ms: number): NylasApiError {
  return new NylasApiError(e.message, e.status, e.type, e.requestId, ms);
}

/** 250 ms, 500 ms, 1 s, ... with equal jitter, capped at 10 s. */
function backoffMs(attempt: number): number {
  const ceiling = Math.min(10_000, 250 * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}
