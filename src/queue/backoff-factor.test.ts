import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { retryDelayMs } from './backoff.ts';

describe('retry backoff factor', () => {
  const top = () => 1; // the upper end of the jitter: the full exponential delay
  it('doubles by default and grows by the factor a queue declares', () => {
    const base = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1_000_000 };
    expect([1, 2, 3, 4].map((a) => retryDelayMs(base, a, top))).toEqual([100, 200, 400, 800]);
    expect([1, 2, 3, 4].map((a) => retryDelayMs({ ...base, factor: 3 }, a, top))).toEqual([100, 300, 900, 2700]);
    expect([1, 2, 3].map((a) => retryDelayMs({ ...base, factor: 1 }, a, top))).toEqual([100, 100, 100]);
  });

  it('takes RETRY_BACKOFF_FACTOR from the environment, 2 unless set, and refuses below 1', () => {
    expect(loadConfig({}).RETRY_BACKOFF_FACTOR).toBe(2);
    expect(loadConfig({ RETRY_BACKOFF_FACTOR: '1.5' }).RETRY_BACKOFF_FACTOR).toBe(1.5);
    expect(() => loadConfig({ RETRY_BACKOFF_FACTOR: '0.5' })).toThrow(/RETRY_BACKOFF_FACTOR: must be at least 1/);
  });
});
