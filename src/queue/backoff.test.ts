import { describe, expect, it } from 'vitest';
import { retryDelayMs, toStoredError } from './backoff.ts';

const policy = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 10_000 };

describe('retryDelayMs', () => {
  it('doubles per attempt with half of each delay random, and caps', () => {
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(policy, a, () => 0))).toEqual([500, 1000, 2000, 4000, 5000]);
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(policy, a, () => 1))).toEqual([1000, 2000, 4000, 8000, 10_000]);
  });

  it('follows a factor exactly when jitter is off (seed 003: 5, 25, 125 s)', () => {
    const seed003 = { baseDelayMs: 5000, factor: 5, maxDelayMs: 3_600_000, jitter: false };
    expect([1, 2, 3].map((a) => retryDelayMs(seed003, a))).toEqual([5000, 25_000, 125_000]);
  });
});

describe('toStoredError', () => {
  it('keeps name, message and attempt of errors and describes non-errors', () => {
    expect(toStoredError(new TypeError('bad'), 2)).toMatchObject({ name: 'TypeError', message: 'bad', attempt: 2 });
    expect(toStoredError('plain')).toEqual({ name: 'NonError', message: 'plain' });
    expect(toStoredError({ code: 1 })).toEqual({ name: 'NonError', message: '{"code":1}' });
  });
});
