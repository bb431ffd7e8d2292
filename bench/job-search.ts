/**
 * Job search over finished jobs: 1,000,000 rows in nova_job_results (retention raised to keep
 * them), searched by one payload field through the management API's statement (LIST_JOBS via
 * QueueClient.listJobs), as the dashboard and `nova queue jobs --where` do. Prints p50 and p95 of
 * 200 searches for random thread ids (a thread has 1-3 jobs), and of 50 searches by a field many
 * jobs share (a configuration: 10,000 jobs, one page of 50 wanted). Target: p95 ≤ 100 ms.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/job-search.ts [rows]
 */
import { QueueClient } from '../src/queue/queue.ts';
import { scratchDatabase } from './support.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('set DATABASE_URL to a PostgreSQL server the bench may create a database on');
  process.exit(1);
}
const ROWS = Number(process.argv[2] ?? 1_000_000);
const QUEUE = 'thread_sync_jobs';
const CONFIGS = 100;

const db = await scratchDatabase(url);
try {
  const started = Date.now();
  // Finished jobs as the engine leaves them: thread jobs of 100 backfills, 1-3 per thread.
  await db.sql.query(`insert into nova_queues (name, max_attempts) values ($1, 5)`, [QUEUE]);
  const chunk = 200_000;
  for (let from = 1; from <= ROWS; from += chunk) {
    await db.sql.query(
      `insert into nova_job_results (id, queue, state, payload, priority, attempts, max_attempts, created_at, started_at, finished_at)
       select i, $1, case when i % 50 = 0 then 'dead' else 'completed' end,
              jsonb_build_object('configId', 'cfg-' || (i % $4), 'threadId', 'thread-' || (i / 2)),
              0, 1, 5, now() - make_interval(secs => ($3 - i) / 10.0), now(), now() - make_interval(secs => ($3 - i) / 10.0)
       from generate_series($2::bigint, least($2::bigint + $5 - 1, $3::bigint)) as i`,
      [QUEUE, from, ROWS, CONFIGS, chunk],
    );
  }
  await db.sql.query('analyze nova_job_results');
  console.log(`${ROWS.toLocaleString('en')} finished jobs loaded in ${((Date.now() - started) / 1000).toFixed(0)} s`);

  const queue = new QueueClient(db.sql);
  const measure = async (what: string, runs: number, search: (i: number) => Promise<unknown[]>) => {
    const times: number[] = [];
    for (let i = 0; i < 10; i++) await search(i); // warm the cache and the plans
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await search(i);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const at = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(1);
    console.log(`${what}: p50 ${at(0.5)} ms, p95 ${at(0.95)} ms (${runs} searches)`);
  };
  const rand = (n: number) => Math.floor(Math.random() * n);
  await measure('by threadId (1-3 matches)', 200, (i) =>
    queue.listJobs(QUEUE, i % 2 ? 'completed' : 'dead', 51, undefined, { payload: { threadId: `thread-${rand(ROWS / 2)}` } }));
  await measure('by configId (10,000 matches, first page)', 50, () =>
    queue.listJobs(QUEUE, 'completed', 51, undefined, { payload: { configId: `cfg-${rand(CONFIGS)}` } }));
  await measure('by configId, last hour', 50, () =>
    queue.listJobs(QUEUE, 'completed', 51, undefined, { payload: { configId: `cfg-${rand(CONFIGS)}` }, from: new Date(Date.now() - 3_600_000) }));
} finally {
  await db.drop();
}
