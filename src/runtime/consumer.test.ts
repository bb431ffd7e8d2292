import { describe, expect, it } from 'vitest';
import { Consumer, type ConsumerSource, type LeasedJob } from './consumer.ts';

const job = (id: number): LeasedJob => ({ id, token: 1, attempt: 1, charged: false });

/** An in-memory source that records every call, so the loop is tested without a database. */
function memorySource(total: number) {
  const waiting: LeasedJob[] = Array.from({ length: total }, (_, i) => job(i + 1));
  const calls = {
    claims: [] as number[], completes: [] as number[][], fails: [] as number[], releases: [] as number[][], extends: 0,
    chargedAtClaim: [] as number[], started: [] as number[],
  };
  const lost = new Set<number>();
  const source: ConsumerSource<LeasedJob> = {
    async claim(limit, startNow) {
      calls.claims.push(limit);
      const jobs = waiting.splice(0, limit);
      jobs.slice(0, startNow).forEach((j) => ((j.charged = true), calls.chargedAtClaim.push(j.id)));
      return jobs;
    },
    async complete(acks, started) {
      calls.started.push(...started.map((j) => j.id));
      if (acks.length === 0) return new Set<number>();
      calls.completes.push(acks.map((a) => a.job.id));
      return new Set(acks.map((a) => a.job.id).filter((id) => !lost.has(id)));
    },
    async fail(job) {
      calls.fails.push(job.id);
      return 'retry';
    },
    async extend(jobs) {
      calls.extends++;
      return { held: new Set(jobs.map((j) => j.id).filter((id) => !lost.has(id))), cancelled: new Set<number>() };
    },
    async release(jobs) {
      calls.releases.push(jobs.map((j) => j.id));
    },
    async nextDueInMs() {
      return null;
    },
  };
  return { source, calls, waiting, lost };
}

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

const options = { concurrency: 3, batchSize: 10, pollIntervalMs: 60_000, heartbeatMs: 60_000 };

describe('Consumer', () => {
  it('finishes a prefetched job cancelled before it starts as cancelled, without running it', async () => {
    const { source, calls } = memorySource(2);
    const ran: number[] = [];
    let release!: () => void;
    const consumer = new Consumer(source, async (j) => {
      ran.push(j.id);
      if (j.id === 1) await new Promise<void>((resolve) => (release = resolve));
    }, { ...options, concurrency: 1 });
    consumer.start();
    // Job 1 runs; job 2 waits in the buffer behind it.
    await until(() => ran.length === 1 && consumer.stats().buffered === 1);
    expect(consumer.abortJob(2, new Error('cancelled'))).toBe(true);
    await until(() => calls.fails.includes(2));
    expect(consumer.abortJob(3, new Error('not here'))).toBe(false);
    release();
    await until(() => consumer.stats().outcomes.completed === 1);
    expect(ran).toEqual([1]);
    await consumer.stop(1000);
  });

  it('frees a handler slot as soon as the handler returns, while its ack is still in flight', async () => {
    const { source, calls } = memorySource(30);
    const pendingAcks: (() => void)[] = [];
    const complete = source.complete.bind(source);
    // The database is slow to acknowledge: acks resolve only when the test lets them.
    source.complete = (jobs, started) => new Promise((resolve) => pendingAcks.push(() => resolve(complete(jobs, started))));
    let started = 0;
    const consumer = new Consumer(source, async () => {
      started++;
    }, options);
    consumer.start();
    // With slots held until the ack commits, only `concurrency` (3) handlers could start.
    await until(() => started === 30);
    expect(consumer.stats().outcomes.completed).toBe(0);
    // Each ack statement released lets the next one (the acks gathered meanwhile) go: release
    // those too, as they come, until every job is acknowledged.
    await until(() => {
      while (pendingAcks.length) pendingAcks.shift()!();
      return consumer.stats().outcomes.completed === 30;
    });
    expect(calls.completes.flat()).toHaveLength(30);
    await consumer.stop(1000);
  });

  it('never runs more handlers at once than its concurrency, and acks each job once', async () => {
    const { source, calls } = memorySource(50);
    let running = 0;
    let peak = 0;
    const consumer = new Consumer(source, async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
    }, options);
    consumer.start();
    await until(() => consumer.stats().outcomes.completed === 50);
    expect(peak).toBe(3);
    const acked = calls.completes.flat();
    expect(acked.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // Acks made in the same tick travel together.
    expect(calls.completes.length).toBeLessThan(50);
    await consumer.stop(1000);
  });

  it('claims in batches and holds no more than concurrency + batch size', async () => {
    const { source, calls } = memorySource(100);
    const consumer = new Consumer(source, () => new Promise((r) => setTimeout(r, 1)), options);
    consumer.start();
    await until(() => consumer.stats().outcomes.completed === 100);
    expect(Math.max(...calls.claims)).toBeLessThanOrEqual(10);
    expect(calls.claims.length).toBeLessThan(40);
    await consumer.stop(1000);
  });

  it('sleeps when the queue is empty and claims again on wake()', async () => {
    const { source, calls, waiting } = memorySource(0);
    const consumer = new Consumer(source, async () => {}, options);
    consumer.start();
    await until(() => calls.claims.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(calls.claims.length).toBe(1);
    waiting.push(job(7));
    consumer.wake();
    await until(() => consumer.stats().outcomes.completed === 1);
    await consumer.stop(1000);
  });

  it('claims a job it failed again when its retry is due, not at the next poll', async () => {
    // A queue with one job that fails once; its retry is due 50 ms after the failure.
    const { source } = memorySource(1);
    const later: { job: LeasedJob; at: number }[] = [];
    source.fail = async (j) => {
      later.push({ job: { ...j, attempt: j.attempt + 1, charged: false }, at: Date.now() + 50 });
      return 'retry';
    };
    const claim = source.claim.bind(source);
    source.claim = async (limit, startNow) => {
      const due = later.filter((l) => l.at <= Date.now());
      for (const d of due) later.splice(later.indexOf(d), 1);
      return [...due.map((d) => d.job), ...(await claim(limit - due.length, startNow))];
    };
    source.nextDueInMs = async () => (later.length ? Math.max(0, Math.min(...later.map((l) => l.at)) - Date.now()) : null);
    const attempts: number[] = [];
    const consumer = new Consumer(source, async (j) => {
      attempts.push(j.attempt);
      if (j.attempt === 1) throw new Error('try again');
    }, options);
    consumer.start();
    // The poll interval is a minute: only the retry's own due time brings the consumer back.
    await until(() => consumer.stats().outcomes.completed === 1, 3000);
    expect(attempts).toEqual([1, 2]);
    await consumer.stop(1000);
  });

  it('reports a thrown handler as a failure, not an ack', async () => {
    const { source, calls } = memorySource(2);
    const consumer = new Consumer(source, async (job) => {
      if (job.id === 2) throw new Error('boom');
    }, options);
    consumer.start();
    await until(() => consumer.stats().outcomes.completed + consumer.stats().outcomes.retry === 2);
    expect(calls.fails).toEqual([2]);
    expect(calls.completes.flat()).toEqual([1]);
    await consumer.stop(1000);
  });

  it('aborts a handler that outlives its timeout', async () => {
    const { source, calls } = memorySource(1);
    let reason: unknown;
    const consumer = new Consumer(source, (_job, abort) => new Promise((_, reject) => {
      abort.signal.addEventListener('abort', () => reject((reason = abort.signal.reason)));
    }), { ...options, timeoutMs: 30 });
    consumer.start();
    await until(() => calls.fails.length === 1);
    expect(String(reason)).toMatch(/timed out after 30 ms/);
    await consumer.stop(1000);
  });

  it('aborts a handler whose lease the heartbeat finds lost', async () => {
    const { source, lost } = memorySource(1);
    lost.add(1);
    let aborted = false;
    const consumer = new Consumer(source, (_job, abort) => new Promise((_, reject) => {
      abort.signal.addEventListener('abort', () => ((aborted = true), reject(abort.signal.reason)));
    }), { ...options, heartbeatMs: 20 });
    consumer.start();
    await until(() => aborted);
    await consumer.stop(1000);
  });

  it('on stop, hands back prefetched jobs at once and lets running ones finish', async () => {
    const { source, calls } = memorySource(10);
    const finished: number[] = [];
    const consumer = new Consumer(source, async (job) => {
      await new Promise((r) => setTimeout(r, 100));
      finished.push(job.id);
    }, { ...options, concurrency: 2 });
    consumer.start();
    await until(() => consumer.stats().running === 2);
    await consumer.stop(5000);
    expect(finished.sort()).toEqual([1, 2]);
    expect(calls.releases[0]!.sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(calls.completes.flat().sort()).toEqual([1, 2]);
  });

  it('on stop past the deadline, aborts running handlers and hands their leases back', async () => {
    const { source, calls } = memorySource(1);
    let signalReason: unknown;
    const consumer = new Consumer(source, (_job, abort) => new Promise((_, reject) => {
      abort.signal.addEventListener('abort', () => reject((signalReason = abort.signal.reason)));
    }), options);
    consumer.start();
    await until(() => consumer.stats().running === 1);
    await consumer.stop(30);
    expect((signalReason as Error).name).toBe('ShutdownAbort');
    expect(calls.releases.flat()).toEqual([1]);
    expect(calls.fails).toEqual([]);
  });

  it('adapts its claim size: large round trips for a backlog of quick jobs, small ones for slow jobs', async () => {
    const quick = memorySource(5000);
    const fast = new Consumer(quick.source, async () => {}, { ...options, concurrency: 10, batchSize: 'auto' });
    fast.start();
    await until(() => fast.stats().outcomes.completed === 5000, 10_000);
    // From `concurrency` (10), doubling while claims come back full: far fewer round trips.
    expect(Math.max(...quick.calls.claims)).toBeGreaterThanOrEqual(160);
    expect(quick.calls.claims.length).toBeLessThan(100);
    await fast.stop(1000);

    const slow = memorySource(40);
    const held: number[] = [];
    const consumer = new Consumer(slow.source, async () => {
      held.push(consumer.stats().buffered + consumer.stats().running);
      await new Promise((r) => setTimeout(r, 50));
    }, { ...options, concurrency: 2, batchSize: 'auto' });
    consumer.start();
    await until(() => consumer.stats().outcomes.completed === 40, 10_000);
    // 50 ms jobs: about 200 ms of work is 2 x 4 jobs; nothing like a large prefetch that would
    // leave jobs waiting here while another replica idles.
    expect(Math.max(...slow.calls.claims.slice(3))).toBeLessThanOrEqual(8);
    expect(Math.max(...held)).toBeLessThanOrEqual(2 + 16);
    await consumer.stop(1000);
  });

  it('keeps a job whose ack failed (database away) and sends the ack again until it commits', async () => {
    const { source, calls } = memorySource(1);
    const complete = source.complete.bind(source);
    let outage = 2;
    source.complete = async (acks, started) => {
      if (outage-- > 0) throw new Error('connection refused');
      return complete(acks, started);
    };
    const consumer = new Consumer(source, async () => {}, { ...options, heartbeatMs: 10 });
    consumer.start();
    await until(() => consumer.stats().outcomes.completed === 1, 5000);
    expect(calls.completes).toEqual([[1]]);
    // The job stayed ours meanwhile: the heartbeat renewed its lease (it is not lost or re-run).
    expect(calls.extends).toBeGreaterThan(0);
    expect(consumer.stats().outcomes['lease-lost']).toBe(0);
    await consumer.stop(1000);
  });

  it('renews the leases of finished jobs whose acks wait behind a slow ack statement', async () => {
    const { source } = memorySource(6);
    const extended: number[][] = [];
    const extend = source.extend.bind(source);
    source.extend = (jobs) => {
      extended.push(jobs.map((j) => j.id));
      return extend(jobs);
    };
    // The first ack statement hangs until the test lets it go; acks of jobs that finish meanwhile
    // queue behind it.
    let releaseFirst: (() => void) | undefined;
    const complete = source.complete.bind(source);
    let acks = 0;
    source.complete = (jobs, started) => {
      if (jobs.length === 0 || acks++ > 0) return complete(jobs, started);
      return new Promise((resolve) => (releaseFirst = () => resolve(complete(jobs, started))));
    };
    // Jobs 1-3 finish at once (their ack is the slow statement); 4-6 finish while it hangs.
    let openGate: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let finished = 0;
    const consumer = new Consumer(source, async (j) => {
      if (j.id > 3) await gate;
      finished++;
    }, { ...options, heartbeatMs: 10 });
    consumer.start();
    await until(() => releaseFirst !== undefined);
    openGate!();
    await until(() => finished === 6);
    // Every finished job is still ours: the heartbeat renews all six, queued acks included.
    await until(() => extended.some((ids) => ids.length === 6));
    expect(new Set(extended.find((ids) => ids.length === 6))).toEqual(new Set([1, 2, 3, 4, 5, 6]));
    releaseFirst!();
    await until(() => consumer.stats().outcomes.completed === 6);
    await consumer.stop(1000);
  });

  it('keeps the jobs a claim brought while a heartbeat was out: it judges only the leases it asked about', async () => {
    const { source, waiting } = memorySource(1);
    // The first heartbeat hangs until the test lets it go; it asked about job 1 only.
    let releaseHeartbeat: (() => void) | undefined;
    const extend = source.extend.bind(source);
    let beats = 0;
    source.extend = (jobs) => {
      if (beats++ > 0) return extend(jobs);
      return new Promise((resolve) => (releaseHeartbeat = () => resolve(extend(jobs))));
    };
    const gates = new Map<number, () => void>();
    const aborted: number[] = [];
    const ran: number[] = [];
    const consumer = new Consumer(source, (j, abort) => new Promise<void>((resolve) => {
      ran.push(j.id);
      abort.signal.addEventListener('abort', () => aborted.push(j.id));
      gates.set(j.id, resolve);
    }), { ...options, concurrency: 2, heartbeatMs: 10 });
    consumer.start();
    await until(() => releaseHeartbeat !== undefined && ran.length === 1);
    // While that heartbeat is out, two jobs arrive: 2 starts in the free slot, 3 waits in the buffer.
    waiting.push(job(2), job(3));
    consumer.wake();
    await until(() => ran.length === 2 && consumer.stats().buffered === 1);
    releaseHeartbeat!();
    await until(() => beats > 2);
    expect(aborted).toEqual([]);
    expect(consumer.stats()).toMatchObject({ running: 2, buffered: 1 });
    for (const id of [1, 2]) gates.get(id)!();
    await until(() => ran.includes(3));
    gates.get(3)!();
    await until(() => consumer.stats().outcomes.completed === 3);
    await consumer.stop(1000);
  });

  it('on a forced stop, aborts running handlers and hands every lease back at once', async () => {
    const { source, calls } = memorySource(5);
    const consumer = new Consumer(source, (_job, abort) => new Promise((_, reject) => {
      abort.signal.addEventListener('abort', () => reject(abort.signal.reason));
    }), { ...options, concurrency: 2 });
    consumer.start();
    await until(() => consumer.stats().running === 2);
    await consumer.abandon();
    expect(calls.releases.flat().sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
    expect(calls.fails).toEqual([]);
  });

  it('charges an attempt only to jobs that start: the claim charges those with a free slot, the rest as they start', async () => {
    const { source, calls } = memorySource(10);
    const gates: (() => void)[] = [];
    const ran: number[] = [];
    const consumer = new Consumer(source, (j) => new Promise<void>((resolve) => {
      ran.push(j.id);
      gates.push(resolve);
    }), { ...options, concurrency: 2, batchSize: 5 });
    consumer.start();
    await until(() => ran.length === 2);
    // One claim of 5 with 2 free slots: 2 charged by the claim, 3 wait in the buffer uncharged.
    expect(calls.chargedAtClaim).toEqual([1, 2]);
    expect(calls.started).toEqual([]);
    gates.shift()!();
    await until(() => ran.length === 3);
    await until(() => calls.started.length === 1);
    expect(calls.started).toEqual([3]);
    // Stopping hands back the buffered jobs that never started (a refill claim took 6-8 with no
    // free slot); none of them was charged.
    const stopping = consumer.stop(1000);
    await until(() => calls.releases.length > 0);
    expect(calls.releases[0]).toEqual([4, 5, 6, 7, 8]);
    for (const release of gates) release();
    await stopping;
    expect(calls.chargedAtClaim).toEqual([1, 2]);
    expect(calls.started).toEqual([3]);
  });
});
