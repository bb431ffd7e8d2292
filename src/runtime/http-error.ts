import { databaseErrorKind } from '../storage/errors.ts';

/**
 * The API server's error vocabulary, apart from the server itself so that route modules (and the
 * processes that load them without serving HTTP) do not load Fastify for it.
 * Every error leaves in one shape: `{ "error": { "code", "message" } }`.
 */

/** An expected failure with an HTTP status, thrown by route handlers. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Sent as Retry-After (seconds) with the error, for a 503 or 429 the client should retry. */
    readonly options: { retryAfterSeconds?: number } = {},
  ) {
    super(message);
  }
}

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** Fastify's own errors, in Nova's vocabulary (the rest fall back to their status). */
const FRAMEWORK_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'empty_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_BAD_URL: 'bad_url',
  FST_ERR_MAX_PARAM_LENGTH: 'bad_url',
  FST_ERR_VALIDATION: 'invalid_request',
  FST_ERR_NOT_FOUND: 'not_found',
};

const STATUS_CODES: Record<number, string> = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed',
  408: 'request_timeout', 409: 'conflict', 413: 'body_too_large', 414: 'uri_too_long', 415: 'unsupported_media_type',
  429: 'too_many_requests', 431: 'headers_too_large',
};

export interface ErrorReply {
  status: number;
  body: ReturnType<typeof errorBody>;
  retryAfterSeconds?: number;
  /** Not an expected failure: log it. */
  unexpected: boolean;
}

/**
 * What any error thrown while serving a request answers: HttpError as it says; framework and
 * client errors (bad JSON, a body too large, a URL that does not decode) as a 4xx with a code of
 * ours; a value the database refused as 400; a database that is not there as 503; anything else
 * as 500 without its details.
 */
export function errorReply(err: unknown): ErrorReply {
  if (err instanceof HttpError) {
    return { status: err.status, body: errorBody(err.code, err.message), unexpected: false, ...(err.options.retryAfterSeconds !== undefined && { retryAfterSeconds: err.options.retryAfterSeconds }) };
  }
  const e = err as { statusCode?: unknown; status?: unknown; code?: unknown; message?: unknown } | null;
  const status = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  const message = typeof e?.message === 'string' ? e.message : 'bad request';
  if (status !== undefined && status >= 400 && status < 500) {
    const code = (typeof e?.code === 'string' && FRAMEWORK_CODES[e.code]) || (err instanceof SyntaxError && 'malformed_json') || STATUS_CODES[status] || 'bad_request';
    return { status, body: errorBody(code, message), unexpected: false };
  }
  const kind = databaseErrorKind(err);
  if (kind === 'data') return { status: 400, body: errorBody('invalid_request', `a value was refused: ${message}`), unexpected: false };
  if (kind === 'unavailable') return { status: 503, body: errorBody('unavailable', 'the database is unavailable; retry later'), retryAfterSeconds: 1, unexpected: true };
  return { status: 500, body: errorBody('internal', 'internal error'), unexpected: true };
}
