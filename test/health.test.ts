import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueClient } from '../src/queue/queue.ts';
import type { Domain } from '../src/runtime/domain.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

describe.each(backends)('health server on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let base: string;
  const domain: Domain = {
    name: 'web', roles: ['web'],
    queues: [{ name: 'web.jobs', role: 'web', concurrency: 2, handler: async () => {} }],
    loops: [{ name: 'web.loop', role: 'web', intervalMs: 1000, run: async () => {} }],
  };

  beforeAll(async () => {
    db = await backend.create();
    runtime = await startRuntime(db, [domain], {}, { health: true });
    base = `http://127.0.0.1:${runtime.healthPort}`;
  });
  afterAll(async () => {
    await runtime.stop();
    await db.drop();
  });

  it('answers /health with 200 while the database answers', async () => {
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', database: 'up' });
  });

  it('describes roles, queues, loops and counters on /status', async () => {
    const q = new QueueClient(db.sql);
    await q.sendBatch('web.jobs', [{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    await q.send('web.jobs', 'later', { delayMs: 60_000 });
    let status: any;
    await until(async () => {
      status = await (await fetch(`${base}/status`)).json();
      return status.queues[0].outcomes.completed === 3;
    }, 10_000, '3 completions on /status');
    expect(status).toMatchObject({ state: 'running', roles: ['web'], database: backend.name, pid: process.pid });
    expect(status.queues[0]).toMatchObject({ name: 'web.jobs', role: 'web', concurrency: 2, inFlight: 0 });
    expect(status.queues[0].lastPollAt).toEqual(expect.any(String));
    await until(async () => {
      status = await (await fetch(`${base}/status`)).json();
      return status.queues[0].depth?.completed === 3;
    }, 5000, 'depth refreshed (cached for a second)');
    expect(status.queues[0].depth).toMatchObject({ waiting: 0, scheduled: 1, active: 0, completed: 3, processedLastHour: 3 });
    expect(status.loops.map((l: { name: string }) => l.name)).toEqual(['web.loop', 'nova:reap-expired-leases', 'nova:analyze', 'nova:retention', 'nova:depth', 'nova:queue-health']);
  });

  it('exposes Prometheus metrics on /metrics', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/nova_jobs_total\{queue="web.jobs",outcome="completed"\} 3/);
    expect(text).toMatch(/nova_queue_jobs\{queue="web.jobs",state="scheduled"\} 1/);
    expect(text).toMatch(/nova_queue_processed_last_hour\{queue="web.jobs"\} 3/);
    expect(text).toContain('nova_job_duration_seconds_bucket');
    expect(text).toContain('nova_process_resident_memory_bytes');
  });

  it('answers unknown paths with 404 and other methods with 405', async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/health`, { method: 'POST' })).status).toBe(405);
  });
});

describe('health server without a database', () => {
  it('answers /health with 503 once the database is gone', async () => {
    const [pglite] = backends;
    const db = await pglite!.create();
    const runtime = await startRuntime(db, [], {}, { health: true });
    try {
      await db.sql.close();
      const res = await fetch(`http://127.0.0.1:${runtime.healthPort}/health`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'unavailable', database: 'down' });
    } finally {
      await runtime.stop().catch(() => {});
      await db.drop().catch(() => {});
    }
  });
});
