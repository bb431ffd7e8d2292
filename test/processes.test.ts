import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueClient } from '../src/queue/queue.ts';
import { loadMigrations, openPglite } from '../src/storage/index.ts';
import { FIXTURE_TABLE } from './fixtures/worker.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { spawnNova, type NovaProcess } from './helpers/process.ts';
import { until } from './helpers/runtime.ts';

/**
 * Real `nova` processes (the CLI with a fixture domain) against each backend. PGlite belongs to
 * one process, so the multi-process cases run on PostgreSQL only; their PGlite counterparts run
 * in-process in queue.test.ts (migration race) and runtime.test.ts (singleton failover).
 */
describe.each(backends)('nova processes on $name', (backend) => {
  const multi = backend.multiProcess ? it : undefined;
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create({ migrate: backend.name === 'postgres' ? false : true });
    await db.sql.query(FIXTURE_TABLE);
  });
  afterAll(() => db.drop());

  multi?.('applies each migration once when five processes start together', async () => {
    const procs = [1, 2, 3, 4, 5].map(() => spawnNova(['migrate'], db.env));
    const codes = await Promise.all(procs.map((p) => p.exited));
    expect(codes, procs.map((p) => p.output()).join('\n')).toEqual([0, 0, 0, 0, 0]);
    const rows = await db.sql.query<{ name: string }>('select name from nova_migrations order by id');
    expect(rows.map((r) => r.name)).toEqual(loadMigrations().map((m) => m.name));
    const applied = procs.map((p) => p.output()).filter((o) => o.includes('applied 0001_queue'));
    expect(applied).toHaveLength(1);
  });

  multi?.('runs a singleton loop in one of three processes and moves it when that one stops', async () => {
    const env = { ...db.env, NOVA_LEASE_TTL_MS: '3000' };
    const procs = [1, 2, 3].map(() => spawnNova(['start', 'ticker'], env));
    const live = new Set<NovaProcess>(procs);
    try {
      await Promise.all(procs.map((p) => p.waitFor(/Nova started/)));
      const holders = async (since: Date) =>
        (await db.sql.query<{ holder: string }>(
          `select distinct holder from fixture_events where kind = 'tick' and at > $1`, [since])).map((r) => r.holder);
      const t0 = new Date();
      await new Promise((r) => setTimeout(r, 1000));
      const first = await holders(t0);
      expect(first).toHaveLength(1);
      // The holder is named by the ticks themselves: on a loaded machine the first process to take
      // the lease can lose it to a slow renewal before the window opens, so the log alone can't say.
      const leader = procs.find((p) => first[0]!.includes(`:${p.child.pid}:`))!;
      expect(leader, first[0]).toBeDefined();
      expect(leader.output()).toContain('took the lease');

      leader.child.kill('SIGTERM');
      expect(await leader.exited).toBe(0);
      live.delete(leader);
      const t1 = new Date();
      await until(async () => (await holders(t1)).length > 0, 10_000, 'a new holder');
      await new Promise((r) => setTimeout(r, 500));
      const next = await holders(t1);
      expect(next).toHaveLength(1);
      expect(next[0]).not.toBe(first[0]);
    } finally {
      for (const p of live) p.child.kill('SIGTERM');
      expect(await Promise.all([...live].map((p) => p.exited))).toEqual([...live].map(() => 0));
    }
  });

  it('on SIGTERM finishes the running job, hands back the rest, and exits 0', async () => {
    const env = { ...db.env, SHUTDOWN_TIMEOUT_MS: '10000', BATCH_SIZE: '10' };
    if (backend.name === 'postgres') {
      // This file's database is migrated by the test above; make sure when run alone.
      const { migrate } = await import('../src/storage/index.ts');
      await migrate(db.sql);
    }
    // PGlite allows one process per data directory, so the test enqueues before the process
    // starts and looks at the outcome after it exits.
    let q = new QueueClient(db.sql);
    const slow = await q.send('fixture.sleep', { ms: 3000 });
    const queued = await q.sendBatch('fixture.sleep', Array.from({ length: 6 }, () => ({ payload: { ms: 3000 }, delayMs: 0 })));
    let sql = db.sql;
    if (backend.name === 'pglite') await db.sql.close();

    const proc = spawnNova(['start', 'sleeper'], env);
    await proc.waitFor(/Nova started/);
    await new Promise((r) => setTimeout(r, 700)); // handlers are mid-sleep
    proc.child.kill('SIGTERM');
    const code = await proc.exited;
    expect(code, proc.output()).toBe(0);

    if (backend.name === 'pglite') {
      sql = await openPglite(db.env.NOVA_DATA_DIR);
      q = new QueueClient(sql);
    }
    try {
      const states = await Promise.all([slow, ...queued].map(async (id) => (await q.getJob(id))!));
      const completed = states.filter((j) => j.state === 'completed');
      const waiting = states.filter((j) => j.state === 'queued');
      // concurrency 4: four ran to completion during the shutdown grace, the rest went back unattempted.
      expect(completed).toHaveLength(4);
      expect(waiting).toHaveLength(3);
      expect(waiting.every((j) => j.attempts === 0)).toBe(true);
      const [finished] = await sql.query<{ n: number }>(`select count(*)::int as n from fixture_events where kind = 'finished'`);
      expect(finished!.n).toBe(4);
    } finally {
      // The embedded database is this test's again; drop() closes it.
      if (backend.name === 'pglite') db.sql = sql;
    }
  });
});

describe('nova configuration', () => {
  it('exits non-zero naming every bad variable before touching the database', async () => {
    const proc = spawnNova(['start'], {
      BATCH_SIZE: 'lots', VISIBILITY_TIMEOUT: '-5', LOG_LEVEL: 'chatty', WORKER_TYPE: 'all', NOVA_DATA_DIR: '/nonexistent/nova',
    });
    const code = await proc.exited;
    expect(code).toBe(78);
    const out = proc.output();
    expect(out).toMatch(/Invalid configuration/);
    for (const name of ['BATCH_SIZE', 'VISIBILITY_TIMEOUT', 'LOG_LEVEL']) expect(out).toContain(name);
    expect(out).not.toContain('WORKER_TYPE');
  });

  it('exits non-zero for an unknown role', async () => {
    const proc = spawnNova(['start', 'nosuchrole'], { NOVA_DATA_DIR: '/nonexistent/nova' });
    expect(await proc.exited).toBe(78);
    expect(proc.output()).toMatch(/nova start: unknown role argument "nosuchrole" \(known: all, fixtures, sleeper, ticker\)/);
    expect(proc.output()).not.toContain('WORKER_TYPE');
  });
});
