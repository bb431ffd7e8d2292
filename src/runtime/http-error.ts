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
  ) {
    super(message);
  }
}

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}
