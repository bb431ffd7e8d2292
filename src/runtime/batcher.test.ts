import { describe, expect, it } from 'vitest';
import { Batcher } from './batcher.ts';

describe('Batcher', () => {
  it('sends items added in one tick together, and items added during a flush in the next batch', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const batcher = new Batcher<number, string>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await gate;
      return items.map((i) => `done ${i}`);
    });
    const first = [1, 2, 3].map((i) => batcher.add(i));
    await new Promise((r) => setImmediate(r));
    const second = [4, 5].map((i) => batcher.add(i));
    release();
    expect(await Promise.all([...first, ...second])).toEqual(['done 1', 'done 2', 'done 3', 'done 4', 'done 5']);
    expect(batches).toEqual([[1, 2, 3], [4, 5]]);
  });

  it('caps a batch at its maximum size and rejects every item of a failed batch', async () => {
    const sizes: number[] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      sizes.push(items.length);
      if (items.includes(3)) throw new Error('boom');
      return items;
    }, 2);
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => batcher.add(i)));
    expect(sizes).toEqual([2, 2, 1]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
    await batcher.idle();
  });

  it('sends a failed batch again item by item when it can send one alone, so only the bad item fails', async () => {
    const batches: number[][] = [];
    const singles: number[] = [];
    const batcher = new Batcher<number, number>(
      async (items) => {
        batches.push(items);
        if (items.includes(3)) throw new Error('batch failed');
        return items.map((i) => i * 10);
      },
      10,
      1,
      async (item) => {
        singles.push(item);
        if (item === 3) throw new Error('item 3 is bad');
        return item * 10;
      },
    );
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => batcher.add(i)));
    expect(results).toEqual([
      { status: 'fulfilled', value: 10 },
      { status: 'fulfilled', value: 20 },
      { status: 'rejected', reason: new Error('item 3 is bad') },
      { status: 'fulfilled', value: 40 },
    ]);
    expect(batches).toEqual([[1, 2, 3, 4]]);
    expect(singles).toEqual([1, 2, 3, 4]);
    // A batch of one that fails is not sent twice.
    await expect(batcher.add(3)).rejects.toThrow('batch failed');
    expect(singles).toHaveLength(4);
  });
});
