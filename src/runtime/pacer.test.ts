import { describe, expect, it } from 'vitest';
import { Pacer } from './pacer.ts';

describe('Pacer', () => {
  it('spaces callers that arrive together by the gap, in arrival order', async () => {
    const pacer = new Pacer(40);
    const start = Date.now();
    const times = await Promise.all([0, 1, 2].map(async () => {
      await pacer.wait();
      return Date.now() - start;
    }));
    expect(times[0]).toBeLessThan(20);
    expect(times[1]).toBeGreaterThanOrEqual(38);
    expect(times[2]).toBeGreaterThanOrEqual(78);
  });

  it('never waits with a gap of 0', async () => {
    const pacer = new Pacer(0);
    const start = Date.now();
    for (let i = 0; i < 100; i++) await pacer.wait();
    expect(Date.now() - start).toBeLessThan(20);
  });

  it('stops waiting when the signal aborts', async () => {
    const pacer = new Pacer(10_000);
    await pacer.wait();
    await expect(pacer.wait(AbortSignal.timeout(20))).rejects.toThrow();
  });
});
