import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EventHub, type NovaEvent } from '../src/queue/events.ts';
import { PermanentFailure, RetryLater } from '../src/queue/errors.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Domain, LoopDefinition } from '../src/runtime/domain.ts';
import { RateLimiter } from '../src/runtime/rate-limit.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { newRuntime, startRuntime, until } from './helpers/runtime.ts';

/** `sql` with its queries counted (transactions and the rest pass through). */
function countingQueries(sql: TestDb['sql']) {
  const counted = { sql: Object.create(sql) as TestDb['sql'], roundTrips: 0 };
  counted.sql.query = (text, params) => {
    counted.roundTrips++;
    return sql.query(text, params);
  };
  return counted;
}

describe.each(backends)('runtime on $name', (backend) => {
  let db: TestDb;
  let q: QueueClient;
  beforeAll(async () => {
    db = await backend.create();
    q = new QueueClient(db.sql);
  });
  afterAll(() => db.drop());

  it('completes each of 10,000 jobs exactly once across 4 consumers on separate connections', async () => {
    const seen: number[] = [];
    const domain = (): Domain => ({
      name: 'load', roles: ['load'],
      queues: [{ name: 'load', role: 'load', concurrency: 10, batchSize: 100, handler: async (_p, ctx) => void seen.push(ctx.job.id) }],
    });
    const total = 10_000;
    const ids: number[] = [];
    for (let i = 0; i < total; i += 1000) {
      ids.push(...(await q.sendBatch('load', Array.from({ length: 1000 }, (_, k) => ({ payload: { n: i + k } })))));
    }
    const runtimes = await Promise.all([1, 2, 3, 4].map(() => startRuntime(db, [domain()], { NOVA_RETAIN_COMPLETED: '100000' })));
    try {
      await until(async () => (await q.metrics('load')).completed === total, 60_000, 'all jobs completed');
    } finally {
      await Promise.all(runtimes.map((r) => r.stop()));
    }
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(new Set(seen)).toEqual(new Set(ids));
    const perRuntime = await Promise.all(runtimes.map(async (r) => ((await r.status()) as { queues: { outcomes: { completed: number } }[] }).queues[0]!.outcomes.completed));
    expect(perRuntime.reduce((a, b) => a + b, 0)).toBe(total);
    expect(perRuntime.filter((n) => n > 0).length).toBeGreaterThan(1);
    const [left] = await db.sql.query<{ n: number }>(`select count(*)::int as n from nova_jobs where queue = 'load'`);
    expect(left!.n).toBe(0);
  });

  it('a stop that comes while the runtime is starting waits for the start, then hands its jobs back', async () => {
    let began = 0;
    const domain: Domain = {
      name: 'early-stop', roles: ['early-stop'],
      queues: [{
        name: 'early-stop', role: 'early-stop', concurrency: 1, batchSize: 2,
        // Runs until the stop aborts it.
        handler: (_p, ctx) => new Promise((_resolve, reject) => {
          began++;
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
        }),
      }],
    };
    const ids = [await q.send('early-stop', { n: 1 }), await q.send('early-stop', { n: 2 })];
    const runtime = newRuntime(db, [domain], { SHUTDOWN_TIMEOUT_MS: '200' });
    // A SIGTERM that arrives before start() returns (as `nova start` installs its handler first).
    const starting = runtime.start();
    const stopped = runtime.stop();
    await Promise.all([starting, stopped]);
    expect(((await runtime.status()) as { state: string }).state).toBe('stopped');
    expect(runtime.awaiting()).toEqual([]);
    for (const id of ids) {
      const job = (await q.getJob(id))!;
      expect(job.state, `job ${id}`).toBe('queued');
      expect(job.attempts, `job ${id}`).toBe(0);
    }
    expect(began).toBeLessThanOrEqual(1);
  });

  it('retries a failing handler with growing backoff, then dead-letters it with the error', async () => {
    const starts: number[] = [];
    const domain: Domain = {
      name: 'flaky', roles: ['flaky'],
      queues: [{
        name: 'flaky', role: 'flaky', retry: { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 10_000 },
        handler: async () => {
          starts.push(Date.now());
          throw new Error(`attempt ${starts.length} failed`);
        },
      }],
    };
    const runtime = await startRuntime(db, [domain]);
    try {
      const id = await q.send('flaky', {});
      await until(async () => (await q.getJob(id))?.state === 'dead', 20_000, 'dead letter');
      const job = await q.getJob(id);
      expect(job).toMatchObject({ attempts: 4, last_error: { message: 'attempt 4 failed', attempt: 4 } });
      const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
      // Equal jitter: retry n waits between half and all of 200 ms * 2^(n-1).
      [200, 400, 800].forEach((full, i) => {
        expect(gaps[i]).toBeGreaterThanOrEqual(full / 2 - 20);
        expect(gaps[i]).toBeLessThan(full + 1000);
      });
    } finally {
      await runtime.stop();
    }
  });

  it('honours RetryLater, dead-letters PermanentFailure and invalid payloads at once', async () => {
    const attempts = new Map<string, number[]>();
    const domain: Domain = {
      name: 'control', roles: ['control'],
      queues: [{
        name: 'control', role: 'control', concurrency: 3, retry: { maxAttempts: 5 },
        schema: z.object({ kind: z.enum(['later', 'permanent']) }),
        handler: async (payload: { kind: string }) => {
          const list = attempts.get(payload.kind) ?? [];
          list.push(Date.now());
          attempts.set(payload.kind, list);
          if (payload.kind === 'later' && list.length === 1) throw new RetryLater(300);
          if (payload.kind === 'permanent') throw new PermanentFailure('cannot ever work');
        },
      }],
    };
    const runtime = await startRuntime(db, [domain]);
    try {
      const later = await q.send('control', { kind: 'later' });
      const permanent = await q.send('control', { kind: 'permanent' });
      const invalid = await q.send('control', { kind: 42 });
      await until(async () => (await q.getJob(later))?.state === 'completed', 10_000, 'retry-later job');
      await until(async () => (await q.getJob(invalid))?.state === 'dead', 10_000, 'invalid job');
      const [first, second] = attempts.get('later')!;
      expect(second! - first!).toBeGreaterThanOrEqual(280);
      expect(await q.getJob(permanent)).toMatchObject({ state: 'dead', attempts: 1 });
      expect(await q.getJob(invalid)).toMatchObject({ state: 'dead', attempts: 1 });
      expect((await q.getJob(invalid))!.last_error!.message).toMatch(/invalid payload/);
    } finally {
      await runtime.stop();
    }
  });

  it('keeps renewing the lease of a job that outlives the visibility timeout, so it runs once', async () => {
    let runs = 0;
    const domain: Domain = {
      name: 'long', roles: ['long'],
      queues: [{ name: 'long', role: 'long', handler: async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 2500));
      } }],
    };
    const a = await startRuntime(db, [domain], { VISIBILITY_TIMEOUT: '1', NOVA_REAP_INTERVAL_MS: '100' });
    const b = await startRuntime(db, [domain], { VISIBILITY_TIMEOUT: '1', NOVA_REAP_INTERVAL_MS: '100' });
    try {
      const id = await q.send('long', {});
      await until(async () => (await q.getJob(id))?.state === 'completed', 10_000, 'long job');
      expect(runs).toBe(1);
      expect((await q.getJob(id))!.attempts).toBe(1);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('runs a singleton loop in exactly one of three runtimes and moves it when the holder stops', async () => {
    const ticks: string[] = [];
    const loop = (who: string): LoopDefinition => ({
      name: 'solo', role: 'solo', intervalMs: 20, singleton: true,
      run: async () => void ticks.push(who),
    });
    const env = { NOVA_LEASE_TTL_MS: '1000' };
    const runtimes = new Map<string, Runtime>();
    for (const who of ['a', 'b', 'c']) {
      runtimes.set(who, await startRuntime(db, [{ name: 'solo', roles: ['solo'], loops: [loop(who)] }], env));
    }
    try {
      await new Promise((r) => setTimeout(r, 600));
      const holders = new Set(ticks);
      expect(holders.size).toBe(1);
      const [leader] = [...holders];
      await runtimes.get(leader!)!.stop();
      runtimes.delete(leader!);
      const before = ticks.length;
      await until(() => ticks.slice(before).some((w) => w !== leader), 5000, 'a new leader');
      await new Promise((r) => setTimeout(r, 300));
      expect(new Set(ticks.slice(before).filter((w) => w !== leader)).size).toBe(1);
    } finally {
      await Promise.all([...runtimes.values()].map((r) => r.stop()));
    }
  });

  it('shares one token bucket between clients on separate connections', async () => {
    const other = await db.connect();
    const limiters = [new RateLimiter(db.sql), new RateLimiter(other)];
    const limit = { capacity: 2, perSecond: 20 };
    const started = Date.now();
    await Promise.all(Array.from({ length: 22 }, (_, i) => limiters[i % 2]!.acquire('grant-1', limit)));
    // 2 at once from the full bucket, then 20 more at 20/s: at least ~1 s however they interleave.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await limiters[1]!.block('grant-2', limit, 500);
    expect(await limiters[0]!.tryTake('grant-2', limit)).toBeGreaterThan(400);
    await expect(limiters[0]!.acquire('grant-3', limit, { cost: 3 })).rejects.toThrow(RangeError);
  });

  it('reserves a few milliseconds of tokens per round trip at high rates, and still keeps the limit', async () => {
    const counted = countingQueries(db.sql);
    const limiter = new RateLimiter(counted.sql);
    const limit = { capacity: 50, perSecond: 2000 };
    const started = Date.now();
    await Promise.all(Array.from({ length: 850 }, () => limiter.acquire('grant-fast', limit)));
    // 50 from the full bucket, then 800 at 2,000/s: at least 400 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    // 40 tokens (20 ms worth) per round trip: far fewer round trips than calls.
    expect(counted.roundTrips).toBeLessThan(200);
  });

  it('draws from several buckets in one round trip, and waits only for the one that is short', async () => {
    const counted = countingQueries(db.sql);
    const limiter = new RateLimiter(counted.sql);
    const requests = { key: 'model:requests', limit: { capacity: 5, perSecond: 1 } };
    const tokens = { key: 'model:tokens', limit: { capacity: 1000, perSecond: 10 }, cost: 400 };
    await limiter.acquireAll([requests, tokens]);
    expect(counted.roundTrips).toBe(1);
    const left = async () => Object.fromEntries((await db.sql.query<{ key: string; tokens: number }>(
      "select key, tokens from nova_rate_buckets where key like 'model:%'")).map((r) => [r.key, Math.round(r.tokens)]));
    expect(await left()).toEqual({ 'model:requests': 4, 'model:tokens': 600 });

    // 200 tokens short at 10/s: about 20 s; the requests bucket is drawn from once meanwhile.
    await db.sql.query("update nova_rate_buckets set tokens = 200, refilled_at = clock_timestamp() - interval '19.5 seconds' where key = 'model:tokens'");
    const started = Date.now();
    await limiter.acquireAll([requests, tokens]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect((await left())['model:requests']).toBe(3);
    expect((await left())['model:tokens']).toBeLessThanOrEqual(1);
    await expect(limiter.acquireAll([{ key: 'model:tokens', limit: tokens.limit, cost: 2000 }])).rejects.toThrow(RangeError);
  });

  it('delivers job events to an event hub on another connection', async () => {
    const listener = new EventHub();
    const publisher = new EventHub();
    const received: NovaEvent[] = [];
    listener.on((e) => received.push(e));
    await listener.connect(await db.connect());
    await publisher.connect(db.sql);
    try {
      const qp = new QueueClient(db.sql, publisher);
      const id = await qp.send('evented', { hi: 1 });
      const [job] = await qp.claim('evented', { limit: 1, leaseMs: 10_000, workerId: 't' });
      await qp.complete('evented', [job!]);
      await until(() => received.some((e) => e.type === 'completed'), 5000, 'completed event');
      expect(received.map((e) => e.type)).toEqual(['enqueued', 'started', 'completed']);
      expect(received.every((e) => e.queue === 'evented' && e.ids?.[0] === id)).toBe(true);
    } finally {
      await Promise.all([listener.disconnect(), publisher.disconnect()]);
    }
  });
});
