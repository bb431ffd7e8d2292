/**
 * Database errors translated in one place, for callers that must answer differently to "the
 * database is not there" (try again later) and "the database refused this value" (the caller's
 * input is at fault). Both drivers report the SQLSTATE as `code`; postgres.js reports a lost or
 * refused connection with its own codes or the socket's errno.
 */

export type DatabaseErrorKind =
  /** The server is down, restarting, unreachable, overloaded, or the statement timed out. */
  | 'unavailable'
  /** The statement was refused for a value it carried: invalid text, out of range, too deep. */
  | 'data'
  | 'other';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  // postgres.js
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
]);

export function databaseErrorKind(err: unknown): DatabaseErrorKind {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'other';
  if (CONNECTION_CODES.has(code)) return 'unavailable';
  // 08 connection exception, 53 insufficient resources, 57P01-03 shutdown / cannot connect now,
  // 57014 query canceled (statement_timeout), 40001/40P01 serialization failure and deadlock.
  if (/^(08|53)/.test(code) || /^57(P0[123]|014)$/.test(code) || code === '40001' || code === '40P01') return 'unavailable';
  // 22 data exception (bad text, out of range), 23 integrity constraint, 54 program limit exceeded
  // (for example stack depth while parsing deeply nested jsonb).
  if (/^(22|23|54)/.test(code)) return 'data';
  return 'other';
}
