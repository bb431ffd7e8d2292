/**
 * The one reader of a provider's "come back later" headers, for every outbound client.
 *
 * - `retry-after-ms`: milliseconds (OpenAI and Anthropic send it next to Retry-After, with a
 *   finer value), read first;
 * - `Retry-After`: delta-seconds (`120`, decimals tolerated) or an HTTP-date (RFC 9110 §10.2.3);
 *   a date in the past means "now" (0).
 *
 * Anything else (empty, negative, garbage) is "not said": undefined, so the caller falls back to
 * its backoff. The result is capped: a buggy or hostile header must not park work for days.
 */

/** Longest pause a provider can impose through a header (1 hour). */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** Response headers as fetch (`Headers`) or an SDK (a plain record) hands them over. */
export type HeaderSource = Headers | Record<string, string | string[] | null | undefined>;

export interface RetryAfterOptions {
  /** Clock for HTTP-dates; default Date.now(). */
  now?: number;
  /** Upper bound of the result; default MAX_RETRY_AFTER_MS. */
  capMs?: number;
}

/** The pause the headers ask for, in ms, or undefined when they ask none (or nonsense). */
export function parseRetryAfter(headers: HeaderSource | null | undefined, options: RetryAfterOptions = {}): number | undefined {
  if (!headers) return undefined;
  const cap = options.capMs ?? MAX_RETRY_AFTER_MS;
  const ms = parseNumber(header(headers, 'retry-after-ms'));
  if (ms !== undefined) return Math.min(cap, Math.round(ms));
  const value = header(headers, 'retry-after');
  if (value === undefined) return undefined;
  const seconds = parseNumber(value);
  if (seconds !== undefined) return Math.min(cap, Math.round(seconds * 1000));
  // Only an HTTP-date (IMF-fixdate, RFC 850 or asctime: a day name and a time); Date.parse
  // alone would also take "Mar 2026" or "tomorrow 5".
  if (!/^[A-Za-z]{3,9},? .*\b\d{2}:\d{2}:\d{2}\b/.test(value)) return undefined;
  // HTTP-dates are always GMT; asctime does not say so, and Date.parse would read local time.
  const at = Date.parse(/\b(GMT|UTC)\b|[+-]\d{4}$/.test(value) ? value : `${value} GMT`);
  if (Number.isNaN(at)) return undefined;
  return Math.min(cap, Math.max(0, at - (options.now ?? Date.now())));
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name)?.trim() ?? undefined;
  const record = headers as Record<string, string | string[] | null | undefined>;
  const found = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = found === undefined ? undefined : record[found];
  return (Array.isArray(value) ? value[0] : value ?? undefined)?.trim();
}

/** A plain non-negative decimal; `Number('')` and `Number('0x10')` would otherwise pass. */
function parseNumber(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+(\.\d+)?$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}
