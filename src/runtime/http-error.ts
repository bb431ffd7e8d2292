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
