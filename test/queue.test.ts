import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHub, type NovaEvent } from '../src/queue/events.ts';
import { QueueClient } from '../src/queue/queue.ts';
import { MAX_REFUNDS, SEND_BATCH } from '../src/queue/sql.ts';
import type { Queryable } from '../src/storage/sql.ts';
import { loadMigrations, migrate } from '../src/storage/index.ts';
import { backends, type TestDb } from './helpers/db.ts';

const lease = { leaseMs: 30_000, workerId: 'test' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(backends)('queue engine on $name', (backend) => {
  let db: TestDb;
  let q: QueueClient;
  let n = 0;
  /** A queue name of its own for each test, so tests do not see each other's jobs. */
  const fresh = () => `q${++n}`;

  beforeAll(async () => {
    db = await backend.create();
    q = new QueueClient(db.sql);
  });
  afterAll(() => db.drop());

  it('returns the live job for a repeated dedup key, and makes a new job once it finished', async () => {
    const name = fresh();
    const [a, b, c] = await q.sendBatch(name, [
      { payload: 1, dedupKey: 'k' },
      { payload: 2, dedupKey: 'k' },
      { payload: 3 },
    ]);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(await q.send(name, 4, { dedupKey: 'k' })).toBe(a);
    const jobs = await q.claim(name, { ...lease, limit: 10 });
    expect(jobs.map((j) => j.payload).sort()).toEqual([1, 3]);
    await q.complete(name, jobs);
    const again = await q.send(name, 5, { dedupKey: 'k' });
    expect(again).not.toBe(a);
  });

  it('sends anew an item whose dedup key was freed between its insert and the lookup of the holder', async () => {
    const name = fresh();
    const first = await q.send(name, 'first', { dedupKey: 'k' });
    const [holder] = await q.claim(name, { ...lease, limit: 1 });
    // The insert finds the key taken; before the lookup of the live job, that job finishes.
    let raced = false;
    const racing: Queryable = {
      query: async (text, params) => {
        const rows = await db.sql.query(text, params);
        if (text === SEND_BATCH && rows.length === 0 && !raced) {
          raced = true;
          await q.complete(name, [holder!]);
        }
        return rows as never;
      },
      exec: (script) => db.sql.exec(script),
    };
    const second = await q.send(name, 'second', { dedupKey: 'k' }, racing);
    expect(raced).toBe(true);
    expect(second).not.toBe(first);
    expect(await q.getJob(second)).toMatchObject({ state: 'queued', payload: 'second' });
  });

  it('runs higher priority first, then earlier due time, then send order', async () => {
    const name = fresh();
    await q.sendBatch(name, [
      { payload: 'low-1' },
      { payload: 'high', priority: 5 },
      { payload: 'low-2' },
      { payload: 'older', runAt: new Date(Date.now() - 60_000) },
    ]);
    const jobs = await q.claim(name, { ...lease, limit: 10 });
    expect(jobs.map((j) => j.payload)).toEqual(['high', 'older', 'low-1', 'low-2']);
  });

  it('holds a delayed job until it is due', async () => {
    const name = fresh();
    // Bounds from the send's own start and end, so a slow machine cannot make it fail.
    const before = Date.now();
    await q.send(name, 'later', { delayMs: 1500 });
    const after = Date.now();
    expect(await q.claim(name, { ...lease, limit: 1 })).toHaveLength(0);
    const m = await q.metrics(name);
    expect(m).toMatchObject({ waiting: 0, scheduled: 1, scheduledRetry: 0 });
    const due = (await q.nextDueAt(name))!.getTime();
    expect(due).toBeGreaterThanOrEqual(before + 1500 - 5);
    expect(due).toBeLessThanOrEqual(after + 1500 + 5);
    await sleep(due - Date.now() + 50);
    expect((await q.claim(name, { ...lease, limit: 1 })).map((j) => j.payload)).toEqual(['later']);
  });

  it('re-delivers a job whose holder vanished once its lease expires, and refuses the stale ack', async () => {
    const name = fresh();
    const id = await q.send(name, 'work');
    const [first] = await q.claim(name, { leaseMs: 200, workerId: 'doomed', limit: 1 });
    expect(first!.id).toBe(id);
    // The holder "dies": no ack, no heartbeat. Nothing is handed out while the lease holds.
    expect(await q.claim(name, { ...lease, limit: 1 })).toHaveLength(0);
    await sleep(300);
    expect(await q.reapExpired()).toMatchObject({ returned: 1, spent: 0 });
    const [second] = await q.claim(name, { ...lease, limit: 1 });
    expect(second).toMatchObject({ id, attempt: 2 });
    expect(second!.token).toBeGreaterThan(first!.token);
    expect((await q.getJob(id))!.last_error).toMatchObject({ name: 'LeaseExpired' });

    expect(await q.complete(name, [first!])).toEqual(new Set());
    expect(await q.fail({ ...first!, queue: name }, new Error('late'), { retryDelayMs: 0 })).toBe('lease-lost');
    expect((await q.extend([first!], 1000)).held).toEqual(new Set());
    expect(await q.complete(name, [second!])).toEqual(new Set([id]));
    expect((await q.getJob(id))!.state).toBe('completed');
  });

  it('returns a job whose lease expired on its last attempt with its attempts spent, for the next claimer to dead-letter', async () => {
    const name = fresh();
    const id = await q.send(name, 'x', { maxAttempts: 1 });
    await q.claim(name, { leaseMs: 50, workerId: 'doomed', limit: 1 });
    await sleep(120);
    expect(await q.reapExpired()).toMatchObject({ returned: 1, spent: 1 });
    const [again] = await q.claim(name, { ...lease, limit: 1 });
    expect(again).toMatchObject({ id, attempt: 2, maxAttempts: 1, lastError: { name: 'LeaseExpired' } });
  });

  it('does not charge an attempt cut short after a checkpoint, charges one without, and lets a job off at most MAX_REFUNDS times', async () => {
    const name = fresh();
    const id = await q.send(name, 'long', { maxAttempts: 2 });
    const expire = () => db.sql.query(`update nova_jobs set lease_expires_at = now() - interval '1 second' where id = $1`, [id]);
    const crashAfter = async (checkpoints: boolean) => {
      const [job] = await q.claim(name, { ...lease, limit: 1 });
      expect(job!.id).toBe(id);
      if (checkpoints) expect(await db.sql.transaction((tx) => q.checkpoint(job!, tx))).toBe(true);
      await expire();
      await q.reapExpired();
      return job!;
    };
    // Crashes after a checkpoint: attempt 1 again and again, each recorded as interrupted.
    for (let i = 0; i < MAX_REFUNDS; i++) expect((await crashAfter(true)).attempt).toBe(1);
    const history = await q.attemptsOf((await q.getJob(id))!);
    expect(history.map((a) => a.outcome)).toEqual(Array(MAX_REFUNDS).fill('interrupted'));
    // Past the bound a crash is charged even after a checkpoint, so a job that crashes its process
    // while claiming to move on still reaches the dead letters.
    expect((await crashAfter(true)).attempt).toBe(1);
    const [next] = await q.claim(name, { ...lease, limit: 1 });
    expect(next).toMatchObject({ id, attempt: 2 });
    await expire();
    expect(await q.reapExpired()).toMatchObject({ returned: 1, spent: 1 });
    expect((await q.attemptsOf((await q.getJob(id))!)).map((a) => a.outcome).slice(-2)).toEqual(['lease-expired', 'lease-expired']);
  });

  it('charges an attempt cut short before any checkpoint, and a checkpoint from an earlier attempt does not count', async () => {
    const name = fresh();
    const id = await q.send(name, 'long', { maxAttempts: 3 });
    const [first] = await q.claim(name, { ...lease, limit: 1 });
    await q.checkpoint(first!);
    expect(await q.fail({ ...first!, queue: name }, new Error('boom'), { retryDelayMs: 0 })).toBe('retry');
    const [second] = await q.claim(name, { ...lease, limit: 1 });
    expect(second).toMatchObject({ id, attempt: 2 });
    await db.sql.query(`update nova_jobs set lease_expires_at = now() - interval '1 second' where id = $1`, [id]);
    expect(await q.reapExpired()).toMatchObject({ returned: 1, spent: 0 });
    const [third] = await q.claim(name, { ...lease, limit: 1 });
    expect(third).toMatchObject({ id, attempt: 3 });
    expect((await q.attemptsOf((await q.getJob(id))!)).map((a) => a.outcome)).toEqual(['retry', 'lease-expired', 'running']);
  });

  it('retries after the given delay, then dead-letters with the last error kept, and redrives', async () => {
    const name = fresh();
    const id = await q.send(name, 'flaky', { maxAttempts: 2 });
    const [a1] = await q.claim(name, { ...lease, limit: 1 });
    expect(await q.fail(a1!, new Error('first'), { retryDelayMs: 300 })).toBe('retry');
    expect(await q.metrics(name)).toMatchObject({ waiting: 0, scheduled: 1, scheduledRetry: 1, active: 0 });
    expect(await q.claim(name, { ...lease, limit: 1 })).toHaveLength(0);
    await sleep(350);
    const [a2] = await q.claim(name, { ...lease, limit: 1 });
    expect(a2).toMatchObject({ id, attempt: 2 });
    expect(await q.fail(a2!, new TypeError('second'), { retryDelayMs: 0 })).toBe('dead');

    const dead = await q.getJob(id);
    expect(dead).toMatchObject({ state: 'dead', attempts: 2 });
    expect(dead!.last_error).toMatchObject({ name: 'TypeError', message: 'second', attempt: 2 });
    expect(await q.metrics(name)).toMatchObject({ dead: 1, waiting: 0, scheduled: 0 });

    expect(await q.redrive(name)).toEqual([id]);
    const [a3] = await q.claim(name, { ...lease, limit: 1 });
    expect(a3).toMatchObject({ id, attempt: 1, payload: 'flaky' });
    expect(await q.metrics(name)).toMatchObject({ dead: 0, active: 1 });
  });

  it('dead-letters at once when told the failure is permanent', async () => {
    const name = fresh();
    const id = await q.send(name, 'poison', { maxAttempts: 5 });
    const [job] = await q.claim(name, { ...lease, limit: 1 });
    expect(await q.fail(job!, new Error('bad payload'), { retryDelayMs: 0, dead: true })).toBe('dead');
    expect((await q.getJob(id))!.attempts).toBe(1);
  });

  it('releases leases without counting the attempt', async () => {
    const name = fresh();
    const id = await q.send(name, 'x');
    const jobs = await q.claim(name, { ...lease, limit: 1 });
    expect(await q.release(jobs)).toBe(1);
    const [again] = await q.claim(name, { ...lease, limit: 1 });
    expect(again).toMatchObject({ id, attempt: 1 });
  });

  it('never runs more than the group cap of one group at once', async () => {
    const name = fresh();
    await q.sendBatch(name, Array.from({ length: 6 }, (_, i) => ({ payload: i, groupKey: 'g' })));
    const opts = { ...lease, limit: 10, groupConcurrency: 2 };
    const first = await q.claim(name, opts);
    expect(first).toHaveLength(2);
    expect(await q.claim(name, opts)).toHaveLength(0);
    await q.complete(name, first.slice(0, 1));
    expect(await q.claim(name, opts)).toHaveLength(1);
  });

  it('rotates fairly between groups: 1,000 jobs of one group do not starve 10 of another', async () => {
    const name = fresh();
    await q.sendBatch(name, Array.from({ length: 1000 }, (_, i) => ({ payload: { g: 'big', i }, groupKey: 'big' })));
    await q.sendBatch(name, Array.from({ length: 10 }, (_, i) => ({ payload: { g: 'small', i }, groupKey: 'small' })));
    await q.send(name, { g: 'none' });
    const order: string[] = [];
    while (order.filter((g) => g === 'small').length < 10) {
      const jobs = await q.claim<{ g: string }>(name, { ...lease, limit: 4, groupConcurrency: 2 });
      expect(jobs.length).toBeGreaterThan(0);
      order.push(...jobs.map((j) => j.payload.g));
      await q.complete(name, jobs);
    }
    // Each round serves both groups up to the cap, so the small group finishes in ~5 rounds.
    expect(order.filter((g) => g === 'big').length).toBeLessThanOrEqual(12);
    expect(order).toContain('none');
  });

  it('counts jobs by state', async () => {
    const name = fresh();
    await q.sendBatch(name, [{ payload: 1 }, { payload: 2 }, { payload: 3 }, { payload: 4, delayMs: 60_000 }]);
    const [job] = await q.claim(name, { ...lease, limit: 1 });
    await q.complete(name, [job!]);
    await q.claim(name, { ...lease, limit: 1 });
    const m = await q.metrics(name);
    expect(m).toMatchObject({ queue: name, waiting: 1, scheduled: 1, scheduledRetry: 0, active: 1, completed: 1, dead: 0 });
    expect(m).toMatchObject({ processedLastHour: 1, processedLastDay: 1 });
    expect(m.oldestWaitingMs).toBeGreaterThanOrEqual(0);
  });

  it('keeps only the newest finished jobs when pruning', async () => {
    const name = fresh();
    await q.sendBatch(name, Array.from({ length: 8 }, (_, i) => ({ payload: i })));
    for (let i = 0; i < 8; i++) await q.complete(name, await q.claim(name, { ...lease, limit: 1 }));
    expect(await q.prune(name, 'completed', 3, 3_600_000)).toBe(5);
    const kept = await db.sql.query<{ payload: number }>(
      `select payload from nova_job_results where queue = $1 order by payload`, [name]);
    expect(kept.map((r) => r.payload)).toEqual([5, 6, 7]);
    expect(await q.prune(name, 'completed', 100, 0)).toBe(3);
  });

  it('reports lifecycle events for every change', async () => {
    const hub = new EventHub();
    const seen: NovaEvent[] = [];
    hub.on((e) => seen.push(e));
    const qe = new QueueClient(db.sql, hub);
    const name = fresh();
    const ids = await qe.sendBatch(name, [{ payload: 1 }, { payload: 2, maxAttempts: 1 }]);
    const jobs = await qe.claim(name, { ...lease, limit: 2 });
    await qe.progress({ ...jobs[0]!, queue: name }, { pct: 50 });
    await qe.complete(name, [jobs[0]!]);
    await qe.fail(jobs[1]!, new Error('nope'), { retryDelayMs: 0 });
    expect(seen.map((e) => [e.type, e.ids])).toEqual([
      ['enqueued', ids],
      ['started', expect.arrayContaining(ids)],
      ['progress', [jobs[0]!.id]],
      ['completed', [jobs[0]!.id]],
      ['dead', [jobs[1]!.id]],
    ]);
    expect(seen[2]!.data).toEqual({ pct: 50 });
    expect(seen[4]!.error).toBe('nope');
  });

  it('offers the seed PGMQ functions over the same tables', async () => {
    const name = fresh();
    const [{ id }] = (await db.sql.query<{ id: number }>(
      `select flux_pgmq_send($1, $2::text::jsonb, 0) as id`, [name, JSON.stringify({ hello: 'world' })])) as [{ id: number }];
    await db.sql.query(`select flux_pgmq_send($1, '{"later":true}'::jsonb, 3600)`, [name]);
    const read = await db.sql.query<{ msg_id: number; read_ct: number; message: unknown }>(
      `select * from flux_pgmq_read($1, 30, 10)`, [name]);
    expect(read).toEqual([expect.objectContaining({ msg_id: id, read_ct: 1, message: { hello: 'world' } })]);
    const [del] = await db.sql.query<{ ok: boolean }>(`select flux_pgmq_delete($1, $2) as ok`, [name, id]);
    expect(del!.ok).toBe(true);
    const [metrics] = await db.sql.query<{ queue_length: number; total_messages: number }>(
      `select * from flux_pgmq_metrics($1)`, [name]);
    expect(metrics).toMatchObject({ queue_length: 1, total_messages: 2 });
    const queues = await db.sql.query<{ queue_name: string }>(`select * from flux_pgmq_list_queues()`);
    expect(queues.map((r) => r.queue_name)).toContain(name);
    // A message sent from SQL is an ordinary job to the TypeScript side.
    expect((await q.getJob(id))!.state).toBe('completed');
  });

  it('applies each migration once when several starters race', async () => {
    const fresh = await backend.create({ migrate: false });
    try {
      const clients = await Promise.all([1, 2, 3, 4, 5].map(() => fresh.connect()));
      const results = await Promise.all(clients.map((c) => migrate(c)));
      const all = loadMigrations().map((m) => m.name);
      expect(all.length).toBeGreaterThanOrEqual(3);
      expect(results.flat().sort()).toEqual(all);
      const rows = await fresh.sql.query<{ n: number }>('select count(*)::int as n from nova_migrations');
      expect(rows[0]!.n).toBe(all.length);
    } finally {
      await fresh.drop();
    }
  });
});

// Two connections holding row locks at once: PGlite has one connection, so this needs a server.
const server = backends.find((b) => b.multiProcess);
describe.runIf(server)('queue engine on postgres, statements racing for rows', () => {
  let db: TestDb;
  let q: QueueClient;

  beforeAll(async () => {
    db = await server!.create();
    q = new QueueClient(db.sql);
  });
  afterAll(() => db.drop());

  it('renews leases without waiting for a row another statement has locked, so a heartbeat and an ack never deadlock', async () => {
    const name = 'race';
    await q.sendBatch(name, [{ payload: 'a' }, { payload: 'b' }]);
    const [a, b] = await q.claim(name, { ...lease, limit: 2 });
    const other = await db.connect();
    try {
      await other.transaction(async (tx) => {
        // Like an ack statement: holds b's row, then wants a's.
        await tx.query('update nova_jobs set priority = priority where id = $1', [b!.id]);
        const renewed = q.extend([a!, b!], 60_000);
        const timeout = new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 3000).unref());
        const result = await Promise.race([renewed, timeout]);
        // b is locked, not lost: reported held (it still has our token), renewed next time.
        expect(result).toEqual({ held: new Set([a!.id, b!.id]), cancelled: new Set() });
        // Had the heartbeat locked a and waited for b, this would close the cycle.
        await tx.query('update nova_jobs set priority = priority where id = $1', [a!.id]);
      });
      const rows = await db.sql.query<{ id: number; left: number }>(
        `select id, extract(epoch from lease_expires_at - now())::float8 as left from nova_jobs where id = any($1::bigint[]) order by id`,
        [[a!.id, b!.id]]);
      expect(rows.map((r) => r.left > 40)).toEqual([true, false]);
    } finally {
      if (other !== db.sql) await other.close();
    }
  });
});
