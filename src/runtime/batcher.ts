/**
 * Gathers items that arrive while a round trip is in flight and sends them together in the next
 * one: one statement for many acks, one transaction for many webhook deliveries. Callers await
 * their own item's result. At most one flush runs at a time, so under load batches grow by
 * themselves and under light load an item waits only until the end of the current tick.
 */
export class Batcher<I, O> {
  private pending: { item: I; resolve: (out: O) => void; reject: (err: unknown) => void }[] = [];
  private readonly running = new Set<Promise<void>>();

  constructor(
    /** Sends a batch; returns one result per item, in order. Throwing rejects the whole batch. */
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 1000,
    /**
     * Batches in flight at once. One keeps batches largest; two overlap one batch's commit
     * (an fsync the process only waits for) with the next one's statements.
     */
    private readonly maxInFlight = 1,
    /**
     * Sends one item alone. Given, a failed batch of several items is sent again item by item, so
     * one bad item fails alone instead of taking the items it happened to share a batch with.
     */
    private readonly single?: (item: I) => Promise<O>,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.running.size < this.maxInFlight) this.start();
    });
  }

  /** Resolves once everything added so far has been sent. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all(this.running);
  }

  private start(): void {
    const run: Promise<void> = this.drain().finally(() => this.running.delete(run));
    this.running.add(run);
  }

  private async drain(): Promise<void> {
    // Let the rest of this tick's items join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        const results = await this.flush(batch.map((p) => p.item));
        batch.forEach((p, i) => p.resolve(results[i]!));
      } catch (err) {
        const single = this.single;
        if (single && batch.length > 1) {
          await Promise.all(batch.map((p) => single(p.item).then(p.resolve, p.reject)));
        } else {
          for (const p of batch) p.reject(err);
        }
      }
    }
  }
}
