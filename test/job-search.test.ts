import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { domains } from '../src/domains.ts';
import { PermanentFailure } from '../src/queue/errors.ts';
import { defineQueue, type Domain } from '../src/runtime/domain.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

/**
 * Job states that add up, job search (payload field, error text, time range, state, paging),
 * the error cause chain, non-retryable validation failures, and the history the charts draw.
 */

const QUEUE = 'search.jobs';
const STRICT = 'search.strict';
const searchDomain: Domain = {
  name: 'search-test',
  roles: ['search-test'],
  queues: [
    defineQueue<{ threadId: string; fail?: boolean }>({
      name: QUEUE,
      role: 'search-test',
      concurrency: 4,
      async handler(payload) {
        if (!payload.fail) return;
        const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
        throw new PermanentFailure('fetch failed', { cause: refused });
      },
    }),
    defineQueue({ name: STRICT, role: 'search-test', schema: z.object({ threadId: z.string() }), async handler() {} }),
  ],
};

describe.each(backends)('job states and search on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let base: string;

  beforeAll(async () => {
    db = await backend.create();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    runtime = await startRuntime(db, [...domains, searchDomain], {
      WORKER_TYPE: 'api,search-test', PORT: String(port), API_HOST: '127.0.0.1', POLL_INTERVAL_MS: '100',
    });
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
  });

  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, body: (await res.json()) as any };
  };
  const ids = async (path: string) => (await get(path)).body.jobs.map((j: { id: number }) => j.id);

  it('finds finished jobs by payload field, error text and time range, page by page', async () => {
    const q = runtime.service.queue;
    const t1 = [await q.send(QUEUE, { threadId: 't1', n: 1 }), await q.send(QUEUE, { threadId: 't1', n: 2 })];
    await q.send(QUEUE, { threadId: 't2', n: 3 });
    const failed = await q.send(QUEUE, { threadId: 't3', fail: true });
    await until(async () => (await get(`/api/queues/${QUEUE}`)).body.completed === 3 && (await get(`/api/queues/${QUEUE}`)).body.dead === 1, 10_000, 'jobs finished');

    expect(await ids(`/api/queues/${QUEUE}/jobs?state=completed&payload.threadId=t1`)).toEqual([...t1].reverse());
    expect(await ids(`/api/queues/${QUEUE}/jobs?state=completed&payload.threadId=t1&payload.n=2`)).toEqual([t1[1]]);
    expect(await ids(`/api/queues/${QUEUE}/jobs?state=completed&payload.threadId=nope`)).toEqual([]);
    const page = await get(`/api/queues/${QUEUE}/jobs?state=completed&payload.threadId=t1&limit=1`);
    expect(page.body).toMatchObject({ jobs: [{ id: t1[1] }], next: t1[1] });
    expect(await ids(`/api/queues/${QUEUE}/jobs?state=completed&payload.threadId=t1&before=${t1[1]}`)).toEqual([t1[0]]);

    // The cause is searchable too: "fetch failed" alone hides the refused connection.
    expect(await ids(`/api/queues/${QUEUE}/jobs?state=dead&error=econnrefused`)).toEqual([failed]);
    expect(await ids(`/api/queues/${QUEUE}/jobs?state=dead&error=timeout`)).toEqual([]);
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const soon = new Date(Date.now() + 60_000).toISOString();
    expect(await ids(`/api/queues/${QUEUE}/jobs?state=completed&from=${hourAgo}&to=${soon}`)).toHaveLength(3);
    expect(await ids(`/api/queues/${QUEUE}/jobs?state=completed&from=${soon}`)).toEqual([]);
    expect((await get(`/api/queues/${QUEUE}/jobs?state=completed&from=yesterday-ish`)).status).toBe(400);

    const job = (await get(`/api/jobs/${failed}`)).body;
    expect(job).toMatchObject({
      state: 'dead', retryable: true,
      lastError: { name: 'PermanentFailure', message: 'fetch failed', cause: { message: 'connect ECONNREFUSED 127.0.0.1:9', code: 'ECONNREFUSED' } },
    });
  });

  it('marks a payload its schema refuses as not retryable', async () => {
    const id = await runtime.service.queue.send(STRICT, { threadId: 42 });
    await until(async () => (await get(`/api/jobs/${id}`)).body.state === 'dead', 10_000, 'invalid payload dead');
    expect((await get(`/api/jobs/${id}`)).body).toMatchObject({ retryable: false, lastError: { name: 'InvalidPayload' } });
  });

  it('counts states that add up to the jobs there are, and processed totals beyond retention', async () => {
    const q = runtime.service.queue;
    const name = 'search.idle'; // no consumer: every job stays where it is put
    await q.declare(name, 3);
    await q.sendBatch(name, [{ payload: { a: 1 } }, { payload: { a: 2 } }, { payload: { a: 3 }, delayMs: 60_000 }]);
    const [leased] = await q.claim(name, { limit: 1, leaseMs: 60_000, workerId: 'test' });
    await q.fail(leased!, new Error('again'), { retryDelayMs: 60_000 });
    const stats = (await get(`/api/queues/${name}`)).body;
    expect(stats).toMatchObject({ waiting: 1, scheduled: 2, scheduledReasons: { delayed: 1, retry: 1 }, active: 0, dead: 0, completed: 0 });
    expect(stats.waiting + stats.scheduled + stats.active).toBe(3);
    expect(stats.retention).toEqual({ completed: 100, dead: 500, maxAgeHours: 168 });
    const scheduled = (await get(`/api/queues/${name}/jobs?state=scheduled`)).body.jobs;
    expect(scheduled.map((j: any) => j.scheduledReason).sort()).toEqual(['delayed', 'retry']);
    expect(scheduled.map((j: any) => j.state)).toEqual(['scheduled', 'scheduled']);

    const busy = (await get(`/api/queues/${QUEUE}`)).body;
    expect(busy.processed).toEqual({ lastHour: 4, lastDay: 4 });
  });

  it('serves the last hour and day of a queue for the charts', async () => {
    const { sampleDepth } = await import('../src/queue/history.ts');
    await sampleDepth(runtime.service.sql, 86_400_000);
    const hour = (await get(`/api/queues/${QUEUE}/history?range=hour`)).body;
    expect(hour).toMatchObject({ queue: QUEUE, range: 'hour', bucketSeconds: 60 });
    expect(hour.points).toHaveLength(60);
    expect(hour.points.reduce((n: number, p: any) => n + p.processed, 0)).toBe(4);
    expect(hour.points.reduce((n: number, p: any) => n + p.failed, 0)).toBe(1);
    expect(hour.points.at(-1)).toMatchObject({ waiting: 0, scheduled: 0, active: 0 });
    const day = (await get(`/api/queues/${QUEUE}/history?range=day`)).body;
    expect(day.points).toHaveLength(96);
    expect(day.points.reduce((n: number, p: any) => n + p.processed, 0)).toBe(4);
    expect((await get(`/api/queues/${QUEUE}/history?range=week`)).status).toBe(400);
  });
});
