import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Defer, Park } from '../src/queue/errors.ts';
import { EventHub, type NovaEvent } from '../src/queue/events.ts';
import { QueueClient } from '../src/queue/queue.ts';
import '../src/email/index.ts';
import { defineDomain, defineQueue, type Domain } from '../src/runtime/domain.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

/** The engine primitives domains build on: onDead, attempts, Defer, Park, cancel, results, events after commit. */
describe.each(backends)('engine primitives on $name', (backend) => {
  let db: TestDb;
  let q: QueueClient;
  let runtime: Runtime;
  const dead: { queue: string; id: number; message: string; inTx: boolean }[] = [];
  const started = new Map<number, number>();
  const attempts: { id: number; number: number; isLast: boolean }[] = [];
  let releaseCancellable: (() => void) | undefined;
  let releaseProgress: (() => void) | undefined;

  // One domain with a queue per behaviour; each handler reads its instructions from the payload.
  const domain: Domain = defineDomain<{ built: number }>({
    name: 'engine-test',
    roles: ['engine-test'],
    // Per-process state comes from setup, handed to every handler as ctx.deps.
    setup: () => ({ built: Date.now() }),
    queues: [
      defineQueue({
        name: 'e-fail', role: 'engine-test', concurrency: 4, retry: { maxAttempts: 2, baseDelayMs: 10, jitter: false },
        schema: z.object({ n: z.number() }),
        nonRetryable: (err) => err instanceof TypeError,
        handler: async (payload, ctx) => {
          attempts.push({ id: ctx.job.id, number: ctx.attempt.number, isLast: ctx.attempt.isLast });
          if (payload.n === 1) throw new TypeError('not fixable by a retry');
          throw new Error(`failing ${payload.n}`);
        },
        onDead: async (job, ctx) => {
          // Written in the dead-lettering transaction: visible there, and only if it commits.
          const [row] = await ctx.tx.query<{ state: string }>(`select state from nova_job_results where id = $1`, [job.id]);
          dead.push({ queue: job.queue, id: job.id, message: ctx.error.message, inTx: row?.state === 'dead' });
        },
      }),
      defineQueue({
        name: 'e-flaky', role: 'engine-test', retry: { maxAttempts: 3, baseDelayMs: 10, jitter: false },
        handler: async (_p: unknown, ctx) => {
          if (ctx.attempt.number < 3) throw new Error(`flaky on attempt ${ctx.attempt.number}`, { cause: new Error('connect ECONNREFUSED 10.0.0.5:443') });
          return { ok: ctx.attempt.number };
        },
      }),
      defineQueue({
        name: 'e-result', role: 'engine-test', handler: async (payload: { x: number }, ctx) => ({ doubled: payload.x * 2, deps: typeof ctx.deps }),
      }),
      defineQueue({
        name: 'e-defer', role: 'engine-test', retry: { maxAttempts: 1 },
        handler: async (_p: unknown, ctx) => {
          started.set(ctx.job.id, (started.get(ctx.job.id) ?? 0) + 1);
          // Deferred three times: with one attempt allowed, only Defer's not spending it lets this finish.
          if (started.get(ctx.job.id)! <= 3) throw new Defer(20);
          return { runs: started.get(ctx.job.id), attempt: ctx.attempt.number };
        },
      }),
      defineQueue({
        name: 'e-park', role: 'engine-test', concurrency: 1, retry: { maxAttempts: 1 },
        handler: async (payload: { key: string; timeoutMs?: number }, ctx) => {
          if (!ctx.job.wake) throw new Park(payload.key, payload.timeoutMs ?? null);
          return ctx.job.wake;
        },
      }),
      defineQueue({
        name: 'e-progress', role: 'engine-test', concurrency: 2,
        handler: async (payload: { wait: boolean }, ctx) => {
          await ctx.progress(10);
          await ctx.progress(30);
          if (payload.wait) await new Promise<void>((resolve) => (releaseProgress = resolve));
          await ctx.progress(100);
        },
      }),
      defineQueue({
        name: 'e-cancel', role: 'engine-test', concurrency: 2,
        handler: async (_p: unknown, ctx) => {
          await new Promise<void>((resolve, reject) => {
            releaseCancellable = resolve;
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
          });
        },
      }),
    ],
  });

  beforeAll(async () => {
    db = await backend.create();
    q = new QueueClient(db.sql);
    runtime = await startRuntime(db, [domain], { NOVA_REAP_INTERVAL_MS: '100', VISIBILITY_TIMEOUT: '2' });
  });
  afterAll(async () => {
    await runtime.stop();
    await db.drop();
  });

  it('runs onDead once, in the dead-lettering transaction, when attempts run out; isLast marks the last attempt', async () => {
    const id = await q.send('e-fail', { n: 2 });
    await until(async () => (await q.getJob(id))?.state === 'dead', 10_000, 'dead');
    await until(() => dead.some((d) => d.id === id));
    expect(dead.filter((d) => d.id === id)).toEqual([{ queue: 'e-fail', id, message: 'failing 2', inTx: true }]);
    expect(attempts.filter((a) => a.id === id)).toEqual([{ id, number: 1, isLast: false }, { id, number: 2, isLast: true }]);
  });

  it('dead-letters a declared non-retryable error at its first attempt, with onDead', async () => {
    const id = await q.send('e-fail', { n: 1 });
    await until(() => dead.some((d) => d.id === id), 10_000, 'onDead');
    expect(attempts.filter((a) => a.id === id)).toHaveLength(1);
    expect(dead.find((d) => d.id === id)!.message).toBe('not fixable by a retry');
  });

  it('runs onDead once when the holder dies during the last attempt, without running the job again', async () => {
    // Another "process" leases it for its only attempt and dies: no ack, no heartbeat. It is
    // sent where the runtime's consumers do not look, so that the doomed claimer gets it.
    const id = await q.send('e-fail-away', { n: 3 }, { maxAttempts: 1 });
    const [leased] = await q.claim('e-fail-away', { limit: 1, leaseMs: 100, workerId: 'doomed' });
    expect(leased!.id).toBe(id);
    await db.sql.query(`update nova_jobs set queue = 'e-fail' where id = $1`, [id]);
    // The reaper hands it back with its attempt spent; the consumer dead-letters it and runs onDead.
    await until(async () => (await q.getJob(id))?.state === 'dead', 10_000, 'dead after the holder died');
    await until(() => dead.some((d) => d.id === id));
    expect(dead.filter((d) => d.id === id)).toHaveLength(1);
    expect(dead.find((d) => d.id === id)!.message).toMatch(/attempts used up: lease expired/);
    expect(attempts.filter((a) => a.id === id)).toHaveLength(0);
  });

  it('records every attempt with its start, worker and error, then the completed one', async () => {
    const id = await q.send('e-flaky', {});
    await until(async () => (await q.getJob(id))?.state === 'completed', 10_000, 'completed on the third attempt');
    const job = (await q.getJob(id))!;
    expect(job.attempts).toBe(3);
    expect(job.worker).toBe(runtime.processId);
    const history = await q.attemptsOf(job);
    expect(history.map((a) => [a.attempt, a.outcome])).toEqual([[1, 'retry'], [2, 'retry'], [3, 'completed']]);
    expect(history[0]!.error).toMatchObject({ message: 'flaky on attempt 1', cause: { message: 'connect ECONNREFUSED 10.0.0.5:443' } });
    for (const a of history) {
      expect(a.worker).toBe(runtime.processId);
      expect(a.startedAt!.getTime()).toBeLessThanOrEqual(a.finishedAt!.getTime());
    }
  });

  it('charges no attempt to claimed jobs that never started when their holder dies', async () => {
    // A "process" claims 3 jobs with one free slot: one starts, two wait in its buffer. It dies.
    const ids: number[] = [];
    for (const n of [1, 2, 3]) ids.push(await q.send('e-prefetch', { n }));
    // RETURNING order is not the claim order: sort by id (the claim order of equal-priority jobs).
    const claimed = (await q.claim('e-prefetch', { limit: 3, startNow: 1, leaseMs: 50, workerId: 'doomed' })).sort((a, b) => a.id - b.id);
    expect(claimed.map((j) => [j.id, j.charged, j.attempt])).toEqual([[ids[0], true, 1], [ids[1], false, 1], [ids[2], false, 1]]);
    // The second one had started too before the crash: its charge went in (with some ack).
    await q.complete('e-prefetch', [], true, [claimed[1]!]);
    // Reaped by this call or by the runtime's own reaper, which may hold the rows at that moment
    // (the reap skips locked rows): ask until the expired leases are handed back.
    const read = () => db.sql.query<{ id: number; attempts: number; has_error: boolean; state: string }>(
      `select id, attempts, last_error is not null as has_error, state from nova_jobs where id = any($1::bigint[]) order by id`, [ids],
    );
    await until(async () => {
      await q.reapExpired();
      return (await read()).every((r) => r.state !== 'active');
    }, 10_000, 'the expired leases reaped');
    const rows = await read();
    expect(rows.map((r) => [r.attempts, r.has_error])).toEqual([[1, true], [1, true], [0, false]]);
    const history = await q.attemptsOf((await q.getJob(ids[0]!))!);
    expect(history.map((a) => [a.attempt, a.outcome, a.worker])).toEqual([[1, 'lease-expired', 'doomed']]);
    expect(await q.attemptsOf((await q.getJob(ids[2]!))!)).toEqual([]);
  });

  it('stores what a handler returns as the job result', async () => {
    const id = await q.send('e-result', { x: 21 });
    await until(async () => (await q.getJob(id))?.state === 'completed', 10_000, 'completed');
    expect((await q.getJob(id))!.result).toEqual({ doubled: 42, deps: 'object' });
  });

  it('stores a running job\'s latest progress once, and nothing for a job that completes before it is due', async () => {
    const seen: NovaEvent[] = [];
    const off = runtime.service.events.on((e) => {
      if (e.type === 'progress' && e.queue === 'e-progress') seen.push(e);
    });
    try {
      const quick = await q.send('e-progress', { wait: false });
      await until(async () => (await q.getJob(quick))?.state === 'completed', 10_000, 'quick job completed');
      const slow = await q.send('e-progress', { wait: true });
      await until(async () => (await q.getJob(slow))?.progress === 30, 10_000, 'progress 30 stored while it runs');
      releaseProgress!();
      await until(async () => (await q.getJob(slow))?.state === 'completed', 10_000, 'slow job completed');
      // 10 was replaced by 30 before it was due; the quick job's three reports and the slow one's
      // 100 came after their jobs settled: one write, one event.
      expect(seen.map((e) => [e.ids, e.data])).toEqual([[[slow], 30]]);
    } finally {
      off();
    }
  });

  it('hands a deferred job back without spending its attempt', async () => {
    const id = await q.send('e-defer', {});
    await until(async () => (await q.getJob(id))?.state === 'completed', 10_000, 'completed after three defers');
    expect((await q.getJob(id))!.result).toEqual({ runs: 4, attempt: 1 });
  });

  it('parks a job without holding a slot and resumes it on its signal; a timeout wakes it too', async () => {
    // Concurrency 1: were a parked job holding its slot, the second could never run.
    const first = await q.send('e-park', { key: 'order:1' });
    const second = await q.send('e-park', { key: 'order:2', timeoutMs: 200 });
    await until(async () => (await q.getJob(first))?.state === 'parked', 10_000, 'first parked');
    await until(async () => (await q.getJob(second))?.state === 'completed', 10_000, 'second timed out and ran');
    expect((await q.getJob(second))!.result).toEqual({ key: 'order:2', timedOut: true });
    expect((await q.getJob(first))!.state).toBe('parked');
    expect(await q.signal('order:1', { approved: true })).toEqual([first]);
    await until(async () => (await q.getJob(first))?.state === 'completed', 10_000, 'first resumed');
    expect((await q.getJob(first))!.result).toEqual({ key: 'order:1', data: { approved: true } });
  });

  it('cancels a running job by aborting its handler, and a waiting one at once', async () => {
    releaseCancellable = undefined;
    const running = await q.send('e-cancel', {});
    await until(() => releaseCancellable !== undefined, 10_000, 'handler running');
    expect(await q.cancel(running)).toBe('cancelling');
    await until(async () => (await q.getJob(running))?.state === 'cancelled', 10_000, 'cancelled');
    expect((await q.getJob(running))!.last_error).toMatchObject({ name: 'JobCancelled' });

    const waiting = await q.send('e-cancel', {}, { delayMs: 60_000 });
    expect(await q.cancel(waiting)).toBe('cancelled');
    expect((await q.getJob(waiting))!.state).toBe('cancelled');
    expect(await q.cancel(waiting)).toBeNull();
  });

  it('types send() by queue name through the job catalog', () => {
    const client = new QueueClient(db.sql);
    // @ts-expect-error thread_sync_jobs takes { configId, threadId }: the typecheck fails without the catalog's entry.
    const wrong = () => client.send('thread_sync_jobs', { wrong: 1 });
    expect(typeof wrong).toBe('function');
  });

  it('publishes enqueued events only after the transaction commits, and none for a rollback', async () => {
    const hub = new EventHub();
    const client = new QueueClient(db.sql, hub);
    const seen: NovaEvent[] = [];
    hub.on((e) => seen.push(e));
    await db.sql.transaction(async (tx) => {
      await client.sendBatch('e-events', [{ payload: 1 }], tx);
      // Inside the transaction nothing is announced yet: the job may never exist.
      expect(seen).toEqual([]);
    });
    expect(seen.map((e) => e.type)).toEqual(['enqueued']);
    await expect(db.sql.transaction(async (tx) => {
      await client.sendBatch('e-events', [{ payload: 2 }], tx);
      throw new Error('roll back');
    })).rejects.toThrow('roll back');
    expect(seen).toHaveLength(1);
    const [{ n }] = await db.sql.query<{ n: number }>(`select count(*)::int as n from nova_jobs where queue = 'e-events'`) as [{ n: number }];
    expect(n).toBe(1);
  });
});
