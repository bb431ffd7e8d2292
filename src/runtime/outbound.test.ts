import { describe, expect, it } from 'vitest';
import { Defer, PermanentFailure } from '../queue/errors.ts';
import { isNetworkError, ProviderError, toJobControl } from './outbound.ts';

const error = (status: number, extra: Partial<ConstructorParameters<typeof ProviderError>[1]> = {}) =>
  new ProviderError(`answered ${status}`, { provider: 'test', status, ...extra });

describe('ProviderError', () => {
  it('is retryable for no answer, 408, 409, 425, 429 and 5xx, and not for other 4xx', () => {
    expect([0, 408, 409, 425, 429, 500, 502, 503, 504].filter((s) => !error(s).retryable)).toEqual([]);
    expect([400, 401, 403, 404, 405, 413, 422].filter((s) => error(s).retryable)).toEqual([]);
    // A 2xx that could not be read says so itself.
    expect(error(200, { retryable: true, code: 'invalid_response' }).retryable).toBe(true);
  });

  it('names auth failures, missing objects and rate limits', () => {
    expect([401, 403].every((s) => error(s).isAuthFailure)).toBe(true);
    expect(error(404).isNotFound).toBe(true);
    expect(error(429).isRateLimited).toBe(true);
    expect(error(0, { code: 'rate_limited' }).isRateLimited).toBe(true);
    expect(error(503).isRateLimited).toBe(false);
  });
});

describe('toJobControl', () => {
  it('fails permanent errors for good, keeping the provider error as the cause', () => {
    for (const status of [400, 401, 403, 404, 422]) {
      const original = error(status);
      const control = toJobControl(original);
      expect(control, String(status)).toBeInstanceOf(PermanentFailure);
      expect((control as Error).cause).toBe(original);
    }
  });

  it('defers a job whose shared budget is spent, after the provider\'s pause', () => {
    const control = toJobControl(error(429, { retryAfterMs: 7000 }));
    expect(control).toBeInstanceOf(Defer);
    expect((control as Defer).delayMs).toBe(7000);
    expect(toJobControl(error(0, { code: 'rate_limited', retryAfterMs: 60_000 }))).toMatchObject({ name: 'Defer', delayMs: 60_000 });
  });

  it('retries other transient faults after their Retry-After, else leaves the delay to the queue\'s backoff', () => {
    expect(toJobControl(error(503, { retryAfterMs: 2500 }))).toMatchObject({ name: 'RetryLater', retryAfterMs: 2500 });
    const timeout = error(0, { code: 'timeout' });
    expect(toJobControl(timeout)).toBe(timeout);
  });

  it('leaves any other error to the queue as it is', () => {
    const bug = new TypeError('x is undefined');
    expect(toJobControl(bug)).toBe(bug);
    const control = new PermanentFailure('bad payload');
    expect(toJobControl(control)).toBe(control);
  });
});

describe('isNetworkError', () => {
  it('recognizes resets and refused connections through fetch\'s wrapping, not ordinary bugs', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(isNetworkError(new TypeError('fetch failed', { cause: reset }))).toBe(true);
    expect(isNetworkError(new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }))).toBe(true);
    expect(isNetworkError(new TypeError('Cannot read properties of undefined'))).toBe(false);
    expect(isNetworkError(new SyntaxError('Unexpected end of JSON input'))).toBe(false);
  });
});
