import type { z } from 'zod';
import { fetchAnswer, Outbound, parseAnswer, type HttpAnswer, type HttpTry } from '../../runtime/outbound.ts';
import { Pacer } from '../../runtime/pacer.ts';
import type { RateLimit, RateLimiter } from '../../runtime/rate-limit.ts';
import * as wire from './wire.ts';

/**
 * A small typed client for the Nylas v3 endpoints Nova uses, rather than the official SDK: every
 * call goes through the outbound layer (the per-grant distributed rate limit, Retry-After shared
 * by every process, retries of transient faults, timeouts), validates the response and keeps the
 * request id on errors (ProviderError) — the SDK does none of this (and its list iterator fetches
 * the first page twice). The emulator test drives the SDK to prove the wire format is the real one.
 */

export interface NylasClientOptions {
  apiKey: string;
  /** Base URI without a trailing slash, e.g. https://api.us.nylas.com or the emulator's URL. */
  apiUri: string;
  rateLimiter: RateLimiter;
  /** Per grant, shared by every process through the database. */
  rateLimit: RateLimit;
  timeoutMs?: number;
  /** Retries of one call after a transient fault (429, 5xx, timeout, reset, bad body). */
  maxRetries?: number;
  /** Smallest gap between calls of this process (API_DELAY_MS); 0 = none. */
  minSpacingMs?: number;
  /** Optional minimum gap between message requests of this client (MESSAGE_DELAY_MS). */
  messageSpacingMs?: number;
  fetch?: typeof fetch;
}

const PROVIDER = 'nylas';

export interface ListThreadsQuery {
  limit?: number;
  pageToken?: string;
  /** Unix seconds, compared with the thread's latest received message. */
  latestMessageAfter?: number;
  latestMessageBefore?: number;
  in?: string;
}

export interface ListMessagesQuery {
  limit?: number;
  pageToken?: string;
  /** Unix seconds. */
  receivedAfter?: number;
  /** Messages with any of these addresses in from, to, cc or bcc. */
  anyEmail?: string[];
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
  requestId: string | undefined;
}

const MESSAGE_PAGE = 200;

export class NylasClient {
  private readonly outbound: Outbound;
  private readonly http: HttpTry;
  private readonly messagePacer: Pacer;

  constructor(private readonly options: NylasClientOptions) {
    this.outbound = new Outbound({
      provider: PROVIDER,
      rateLimiter: options.rateLimiter,
      timeoutMs: options.timeoutMs ?? 30_000,
      maxRetries: options.maxRetries ?? 3,
      // Optional minimum spacing between calls (API_DELAY_MS), kept for teams that want it.
      pacer: new Pacer(options.minSpacingMs ?? 0),
    });
    this.http = { provider: PROVIDER, describeError, ...(options.fetch && { fetch: options.fetch }) };
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

  /** One page of the grant's messages, newest first. */
  async listMessages(grantId: string, query: ListMessagesQuery = {}, signal?: AbortSignal): Promise<Page<wire.Message>> {
    await this.messagePacer.wait(signal);
    return this.page(grantId, '/messages', wire.message, {
      limit: query.limit ?? MESSAGE_PAGE,
      page_token: query.pageToken,
      received_after: query.receivedAfter,
      any_email: query.anyEmail?.length ? query.anyEmail.join(',') : undefined,
    }, signal);
  }

  async getMessage(grantId: string, messageId: string, signal?: AbortSignal): Promise<wire.Message> {
    await this.messagePacer.wait(signal);
    return this.single(grantId, `/messages/${encodeURIComponent(messageId)}`, wire.message, { fields: 'include_headers' }, signal);
  }

  private single<T extends z.ZodType>(grantId: string, path: string, schema: T, query: Query, signal?: AbortSignal): Promise<z.infer<T>> {
    return this.call(grantId, path, query, signal, (answer) =>
      (parseAnswer(PROVIDER, wire.singleEnvelope(schema), answer, path) as { data: z.infer<T> }).data);
  }

  private page<T extends z.ZodType>(grantId: string, path: string, schema: T, query: Query, signal?: AbortSignal): Promise<Page<z.infer<T>>> {
    return this.call(grantId, path, query, signal, (answer) => {
      const env = parseAnswer(PROVIDER, wire.listEnvelope(schema), answer, path) as { data: z.infer<T>[]; next_cursor?: string | null; request_id?: string | null };
      return { data: env.data, nextCursor: env.next_cursor ?? null, requestId: env.request_id ?? answer.requestId };
    });
  }

  /** One GET under the grant's shared rate limit; the body is parsed inside the try, so a bad one is retried. */
  private call<R>(grantId: string, path: string, query: Query, signal: AbortSignal | undefined, read: (answer: HttpAnswer) => R): Promise<R> {
    const url = this.url(grantId, path, query);
    const headers = { authorization: `Bearer ${this.options.apiKey}`, accept: 'application/json' };
    return this.outbound.call(async (trySignal) => read(await fetchAnswer(this.http, url, { headers, signal: trySignal })), {
      signal,
      budgets: [{ key: `nylas:${grantId}`, limit: this.options.rateLimit }],
    });
  }

  private url(grantId: string, path: string, query: Query): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return `${this.options.apiUri}/v3/grants/${encodeURIComponent(grantId)}${path}${qs ? `?${qs}` : ''}`;
  }
}

type Query = Record<string, string | number | undefined>;

/** Nylas's error envelope: `{ request_id, error: { type, message } }`. */
function describeError(text: string) {
  const env = wire.errorEnvelope.parse(JSON.parse(text));
  return { message: env.error.message ?? undefined, code: env.error.type ?? undefined, requestId: env.request_id ?? undefined };
}
