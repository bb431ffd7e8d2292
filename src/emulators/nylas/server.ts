/**
 * The Nylas v3 HTTP surface on node:http: routing, query parsing and the envelopes. Every
 * failure is an ApiError thrown anywhere below `respond` and turned into the one error envelope
 * in `handle`; every response carries the request id in the body and the x-request-id header.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Failure, TrafficControl } from './faults.ts';
import type { Mailbox, MessageQuery, ThreadQuery } from './mailbox.ts';
import { presentMessage, type ListKey, type WireError } from './wire.ts';

export interface ServerLimits {
  apiKey?: string | undefined;
  maxThreadPageSize: number;
  maxMessagePageSize: number;
}

const ERRORS: Record<number, { type: string; message: string }> = {
  400: { type: 'invalid_request_error', message: 'error parsing request' },
  401: { type: 'unauthorized', message: 'Unauthorized' },
  403: { type: 'forbidden', message: 'Forbidden' },
  404: { type: 'not_found_error', message: 'requested object not found' },
  405: { type: 'invalid_request_error', message: 'method not allowed' },
  429: { type: 'rate_limit_error', message: 'Too many requests, please try again shortly.' },
  500: { type: 'internal_error', message: 'Internal server error' },
  503: { type: 'api_error', message: 'Service temporarily unavailable, please retry.' },
  504: { type: 'provider_error', message: 'Provider request timed out.' },
};

/** An error the API answers with; `type` and `message` default from the status. */
export class ApiError extends Error {
  readonly type: string;
  constructor(
    readonly status: number,
    message?: string,
    readonly headers: Record<string, string> = {},
    readonly providerError?: unknown,
  ) {
    const known = ERRORS[status];
    super(message ?? known?.message ?? `HTTP ${status}`);
    this.type = known?.type ?? (status < 500 ? 'invalid_request_error' : 'api_error');
  }
}

function failureError(failure: Failure): ApiError {
  if (failure.status !== 429) return new ApiError(failure.status);
  // Shaped like a provider (Gmail) throttle: the only case in which Nylas sends Retry-After.
  return new ApiError(429, undefined, { 'retry-after': String(failure.retryAfterSeconds ?? 1) }, {
    error: { code: 429, message: 'User-rate limit exceeded.', status: 'RESOURCE_EXHAUSTED' },
  });
}

type Reply = { kind: 'json'; status: number; body: unknown; headers?: Record<string, string>; truncate?: boolean } | { kind: 'hang' } | { kind: 'reset' };

/** What the fault verdict decided for the answer, whatever the answer turns out to be. */
interface Fate {
  resetMidBody: boolean;
}

type Route =
  | { kind: 'grant'; grant: string }
  | { kind: 'threads' | 'messages'; grant: string }
  | { kind: 'thread' | 'message'; grant: string; id: string }
  | { kind: 'unknown'; grant?: string };

function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').slice(1);
  if (parts[0] !== 'v3' || parts[1] !== 'grants' || parts.length < 3 || parts.length > 5) return { kind: 'unknown' };
  let segments: string[];
  try {
    segments = parts.slice(2).map((p) => decodeURIComponent(p));
  } catch {
    return { kind: 'unknown' };
  }
  const [grant = '', collection, id] = segments;
  if (grant === '') return { kind: 'unknown' };
  if (collection === undefined) return { kind: 'grant', grant };
  if (collection !== 'threads' && collection !== 'messages') return { kind: 'unknown', grant };
  if (id === undefined) return { kind: collection, grant };
  if (id === '') return { kind: 'unknown', grant };
  return { kind: collection === 'threads' ? 'thread' : 'message', grant, id };
}

export class NylasApiServer {
  private server: Server | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Responses held open by the timeout fault; stop() destroys them. */
  private readonly held = new Set<ServerResponse>();

  constructor(private readonly mailbox: Mailbox, private readonly traffic: TrafficControl, private readonly limits: ServerLimits) {}

  async listen(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const res of this.held) res.destroy();
    this.held.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive and held sockets would otherwise keep close() waiting.
    server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // Only GET is served; drain any request body so the socket can be reused.
    req.resume();
    const requestId = randomUUID();
    const fate: Fate = { resetMidBody: false };
    let reply: Reply;
    try {
      reply = this.respond(req, requestId, fate);
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError(500, error instanceof Error ? error.message : String(error));
      const body: WireError = {
        request_id: requestId,
        error: {
          type: apiError.type,
          message: apiError.message,
          ...(apiError.providerError !== undefined && { provider_error: apiError.providerError }),
        },
      };
      reply = { kind: 'json', status: apiError.status, body, headers: apiError.headers };
    }
    if (reply.kind === 'hang') {
      this.held.add(res);
      res.on('close', () => this.held.delete(res));
      return;
    }
    // A reset (RST, not FIN): the client sees ECONNRESET, as from a proxy or load balancer dropping it.
    if (reply.kind === 'reset') return void req.socket.resetAndDestroy();
    let bytes = Buffer.from(JSON.stringify(reply.body), 'utf8');
    // A JSON text cut before its last byte always lacks the closing brace, so it never parses.
    if (reply.truncate && reply.status < 300) {
      bytes = bytes.subarray(0, Math.floor(bytes.length / 2));
      this.traffic.countTruncation();
    }
    const write = () => {
      if (res.destroyed) return;
      res.writeHead(reply.status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(bytes.length),
        'x-request-id': requestId,
        ...reply.headers,
      });
      if (!fate.resetMidBody) return void res.end(bytes);
      // Headers and half the body go out, then the connection is reset; the pause lets them
      // leave the socket's buffer, which a reset would otherwise discard.
      res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          res.socket?.resetAndDestroy();
        }, 5);
        this.timers.add(timer);
      });
    };
    const latency = this.traffic.latencyMs;
    if (latency <= 0) return write();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      write();
    }, latency);
    this.timers.add(timer);
  }

  private respond(req: IncomingMessage, requestId: string, fate: Fate): Reply {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const route = parseRoute(url.pathname);
    const grantId = route.grant === undefined ? undefined : this.mailbox.canonicalGrantId(route.grant);
    // Injected failures may target a query too (say, only list pages after the first: page_token).
    const verdict = this.traffic.admit(url.pathname + url.search, grantId);
    if (verdict.kind === 'hang' || verdict.kind === 'reset') return verdict;
    if (verdict.kind === 'fail') throw failureError(verdict.failure);
    fate.resetMidBody = verdict.resetMidBody;
    if (this.limits.apiKey !== undefined && req.headers.authorization !== `Bearer ${this.limits.apiKey}`) throw new ApiError(401);
    if (route.kind === 'unknown' || grantId === undefined) throw new ApiError(404, `no route for ${req.method ?? 'GET'} ${url.pathname}`);
    if (req.method !== 'GET') throw new ApiError(405, `method ${req.method ?? ''} not allowed on ${url.pathname}`);
    // The grant object stays readable (grant_status "invalid"); its mail does not.
    if (route.kind !== 'grant' && this.mailbox.isExpired(grantId)) {
      throw new ApiError(401, 'grant has expired or been revoked; the user must re-authenticate');
    }
    const params = url.searchParams;
    const single = (data: unknown) => ({ kind: 'json' as const, status: 200, body: { request_id: requestId, data }, truncate: verdict.truncate });
    const list = (data: unknown[], next: ListKey | undefined, kind: string) => ({
      kind: 'json' as const,
      status: 200,
      body: { request_id: requestId, data, ...(next && { next_cursor: encodeCursor(kind, next) }) },
      truncate: verdict.truncate,
    });
    const select = listParam(params, 'select');
    const headers = headersParam(params);

    switch (route.kind) {
      case 'grant':
        return single(this.mailbox.grant(grantId));
      case 'threads': {
        const page = this.mailbox.listThreads(grantId, this.threadQuery(params));
        return list(page.items.map((t) => project(t, select)), page.next, 't');
      }
      case 'thread': {
        const thread = this.mailbox.thread(grantId, route.id);
        if (!thread) throw new ApiError(404, `thread ${route.id} not found`);
        return single(project(thread, select));
      }
      case 'messages': {
        const page = this.mailbox.listMessages(grantId, this.messageQuery(params));
        return list(page.items.map((m) => project(presentMessage(m, headers), select)), page.next, 'm');
      }
      case 'message': {
        const message = this.mailbox.message(grantId, route.id);
        if (!message) throw new ApiError(404, `message ${route.id} not found`);
        return single(project(presentMessage(message, headers), select));
      }
    }
  }

  private threadQuery(params: URLSearchParams): ThreadQuery {
    return {
      ...commonQuery(params, 't', 20, this.limits.maxThreadPageSize),
      after: intParam(params, 'latest_message_after'),
      before: intParam(params, 'latest_message_before'),
    };
  }

  private messageQuery(params: URLSearchParams): MessageQuery {
    return {
      ...commonQuery(params, 'm', 50, this.limits.maxMessagePageSize),
      after: intParam(params, 'received_after'),
      before: intParam(params, 'received_before'),
      threadId: params.get('thread_id') ?? undefined,
    };
  }
}

function commonQuery(params: URLSearchParams, kind: string, defaultLimit: number, maxLimit: number): ThreadQuery {
  const raw = params.get('limit');
  const limit = raw === null ? defaultLimit : Number(raw);
  if (!Number.isInteger(limit) || limit < 1) throw new ApiError(400, 'limit must be a positive integer');
  if (limit > maxLimit) throw new ApiError(400, `limit must be lower than or equal to ${maxLimit}`);
  return {
    limit,
    cursor: decodeCursor(params.get('page_token'), kind),
    unread: boolParam(params, 'unread'),
    starred: boolParam(params, 'starred'),
    folder: params.get('in') ?? undefined,
    subject: params.get('subject') ?? undefined,
    anyEmail: listParam(params, 'any_email'),
  };
}

/** Cursors are opaque to clients: base64url of [list kind, date, id] of the page's last object. */
function encodeCursor(kind: string, key: ListKey): string {
  return Buffer.from(JSON.stringify([kind, key.date, key.id]), 'utf8').toString('base64url');
}

function decodeCursor(token: string | null, kind: string): ListKey | undefined {
  if (token === null || token === '') return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value[0] === kind && Number.isInteger(value[1]) && typeof value[2] === 'string') {
      return { date: value[1] as number, id: value[2] };
    }
  } catch {
    // Falls through to the 400 below.
  }
  throw new ApiError(400, 'invalid page_token');
}

function intParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value)) throw new ApiError(400, `${name} must be a unix timestamp in seconds`);
  return value;
}

function boolParam(params: URLSearchParams, name: string): boolean | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  if (raw !== 'true' && raw !== 'false') throw new ApiError(400, `${name} must be true or false`);
  return raw === 'true';
}

/** Accepts both `a,b` and repeated parameters (the SDK repeats arrays). */
function listParam(params: URLSearchParams, name: string): string[] | undefined {
  const values = params.getAll(name).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  return values.length ? values : undefined;
}

function headersParam(params: URLSearchParams): 'none' | 'basic' | 'all' {
  const fields = params.get('fields');
  if (fields === null || fields === 'standard' || fields === 'include_tracking_options') return 'none';
  if (fields === 'include_headers') return 'all';
  if (fields === 'include_basic_headers') return 'basic';
  throw new ApiError(400, `fields must be one of standard, include_headers, include_basic_headers`);
}

function project<T extends object>(object: T, select: string[] | undefined): T | Partial<T> {
  if (!select) return object;
  return Object.fromEntries(Object.entries(object).filter(([key]) => select.includes(key))) as Partial<T>;
}
