/**
 * Workflow engine benchmark. Prints numbers; asserts nothing.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:workflows
 *
 * On a scratch database, with built `nova` processes (`node dist/cli/main.js start …`) running
 * the shipped example workflows:
 *   1. latency: BENCH_SEQUENTIAL runs of `demo.three-steps` one after the other, start →
 *      `run.completed` seen by this process (and start → finished_at in the database);
 *   2. http hop: the same for `demo.fetch` against a local server, runner → http-worker → runner;
 *   3. throughput: BENCH_RUNS runs queued first, then worked off by 2 `workflow-runner`
 *      processes (rate between 10 % and 90 % done; peak RSS of the runners);
 *   4. sleeping: BENCH_SLEEPERS runs of `demo.nap` sleeping at once, due over BENCH_SPREAD_MS;
 *      runner CPU and active jobs while they sleep, then each run's lag after its due time.
 */
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRun } from '../src/workflows/index.ts';
import { envInt, cpuMs, mb, peakRss, startNova, type NovaChild, p50p99, percentile, workflowBench } from './support.ts';

const env = process.env;
const int = envInt;
const SEQUENTIAL = int('BENCH_SEQUENTIAL', 500);
const RUNS = int('BENCH_RUNS', 20_000);
const SLEEPERS = int('BENCH_SLEEPERS', 10_000);
const SPREAD_MS = int('BENCH_SPREAD_MS', 30_000);

if (!env.DATABASE_URL) {
  console.error('bench:workflows needs DATABASE_URL (runner processes share the database; PGlite is single-process)');
  process.exit(2);
}

const { db, events, services, engine } = await workflowBench(env.DATABASE_URL);
const waiters = new Map<string, () => void>();
events.on((e) => {
  if (e.type !== 'run.completed' && e.type !== 'run.failed') return;
  const id = (e.data as { runId: string }).runId;
  waiters.get(id)?.();
});

const procEnv = { DATABASE_URL: db.url, HTTP_STEP_ALLOWED_HOSTS: '127.0.0.1', POLL_INTERVAL_MS: '1000' };
async function until(done: () => Promise<boolean>): Promise<void> {
  while (!(await done())) await sleep(100);
}

/** Runs one workflow at a time; returns client-observed and database-side durations. */
async function sequential(name: string, input: unknown, n: number): Promise<{ client: number[]; db: number[] }> {
  const client: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const { run } = await startRun(engine, name, input);
    waiters.set(run.id, done);
    // The event may have come before the waiter was set: the run is that fast.
    const [row] = await db.sql.query<{ status: string }>('select status from runs where id = $1', [run.id]);
    if (row!.status !== 'completed') await finished;
    client.push(performance.now() - t0);
    waiters.delete(run.id);
    ids.push(run.id);
  }
  const rows = await db.sql.query<{ ms: number }>(
    `select extract(epoch from (finished_at - created_at)) * 1000 as ms from runs where id = any($1::uuid[])`, [ids]);
  return { client: client.slice(Math.floor(n / 10)), db: rows.map((r) => Number(r.ms)) };
}

const target = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(target.address() as { port: number }).port}/ping`;

let runners: NovaChild[] = [];
try {
  console.log(`bench:workflows on ${new URL(db.url).host}`);
  runners = [await startNova('workflow-runner,http-worker', procEnv)];
  await sequential('demo.three-steps', {}, 50); // warm up
  const three = await sequential('demo.three-steps', {}, SEQUENTIAL);
  console.log(`3-step no-op workflow, start → completed (${SEQUENTIAL} sequential): client ${p50p99(three.client)}; database ${p50p99(three.db)}`);
  const fetchRuns = await sequential('demo.fetch', { url }, Math.max(100, Math.floor(SEQUENTIAL / 2)));
  console.log(`1 http step (runner → http-worker → runner): client ${p50p99(fetchRuns.client)}; database ${p50p99(fetchRuns.db)}`);
  console.log(`  added by the http hop over the 3-step run at p50: ${(percentile(fetchRuns.client, 50) - percentile(three.client, 50)).toFixed(1)} ms (the local server answers in < 0.2 ms)`);
  await Promise.all(runners.map((r) => r.stop()));

  // Throughput: the backlog first, then two runners work it off.
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next++ < RUNS) await startRun(engine, 'demo.three-steps', {});
  }));
  const startRate = RUNS / ((performance.now() - t0) / 1000);
  console.log(`queued ${RUNS} runs in ${((performance.now() - t0) / 1000).toFixed(1)} s (${Math.round(startRate)}/s through startRun, one bench process)`);
  runners = await Promise.all([startNova('workflow-runner', procEnv), startNova('workflow-runner', procEnv)]);
  const rss = peakRss(() => runners.map((r) => r.child.pid));
  const marks: { at: number; done: number }[] = [];
  for (;;) {
    const [row] = await db.sql.query<{ n: number }>(`select count(*)::int as n from runs where status = 'completed' and workflow = 'demo.three-steps'`);
    marks.push({ at: performance.now(), done: row!.n - SEQUENTIAL - 50 });
    if (row!.n - SEQUENTIAL - 50 >= RUNS) break;
    await sleep(100);
  }
  const a = marks.find((m) => m.done >= RUNS * 0.1)!;
  const b = marks.find((m) => m.done >= RUNS * 0.9)!;
  console.log(`throughput, 2 workflow-runner processes: ${Math.round((b.done - a.done) / ((b.at - a.at) / 1000))} runs/s (10 %–90 %), peak runner RSS ${mb(rss.stop())}`);

  // Sleeping runs: all asleep at once, due over SPREAD_MS from a common start.
  // Due only once all are asleep. Starting them is slower than the backlog above (the runners
  // take each new run's first tick, which ends in the sleep's commit, meanwhile on the same
  // cores): 9 ms each is a safe margin (3.5 ms each were measured at load 20 once starts and
  // suspends were batched); a run started after its due time is left out of the lags below.
  const due0 = Date.now() + 30_000 + 9 * SLEEPERS;
  const s0 = performance.now();
  next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    for (let i = next++; i < SLEEPERS; i = next++) {
      await startRun(engine, 'demo.nap', { until: new Date(due0 + Math.floor((i * SPREAD_MS) / SLEEPERS)).toISOString() });
    }
  }));
  const startedIn = (performance.now() - s0) / 1000;
  await until(async () => {
    const [row] = await db.sql.query<{ n: number }>(`select count(*)::int as n from runs where status = 'waiting' and workflow = 'demo.nap'`);
    return row!.n >= SLEEPERS;
  });
  console.log(`started ${SLEEPERS} sleeping runs in ${startedIn.toFixed(1)} s (${Math.round(SLEEPERS / startedIn)}/s), all asleep (each tick's sleep committed) after ${((performance.now() - s0) / 1000).toFixed(1)} s; first due in ${((due0 - Date.now()) / 1000).toFixed(1)} s`);
  await sleep(Math.max(0, due0 - Date.now() - 8000));
  const [asleep] = await db.sql.query<{ n: number }>(`select count(*)::int as n from runs where status = 'waiting' and workflow = 'demo.nap'`);
  const cpu0 = runners.map((r) => cpuMs(r.child.pid));
  const c0 = performance.now();
  await sleep(5000);
  const idle = runners.map((r, i) => (100 * (cpuMs(r.child.pid) - cpu0[i]!)) / (performance.now() - c0));
  const active = (await services.queue.metrics('workflow.tick')).active;
  console.log(`${asleep!.n} runs asleep at once: ${active} active tick jobs; runner CPU while they sleep ${idle.map((c) => c.toFixed(1) + ' %').join(', ')}`);
  for (;;) {
    const [row] = await db.sql.query<{ n: number }>(`select count(*)::int as n from runs where status = 'completed' and workflow = 'demo.nap'`);
    if (row!.n >= SLEEPERS) break;
    await sleep(200);
  }
  // Only runs that were asleep before their due time count (a run started late never slept).
  const lags = (await db.sql.query<{ ms: number }>(
    `select extract(epoch from (s.finished_at - s.wake_at)) * 1000 as ms from run_steps s join runs r on r.id = s.run_id
     where r.workflow = 'demo.nap' and s.step_id = 'nap' and r.created_at < s.wake_at`)).map((r) => Number(r.ms));
  console.log(`woken after their due time (${SPREAD_MS / 1000} s spread): ${p50p99(lags)}, max ${Math.max(...lags).toFixed(0)} ms, ${lags.filter((l) => l > 1000).length} later than 1 s`);
} finally {
  await Promise.all(runners.map((r) => r.stop()));
  target.close();
  await events.disconnect();
  await db.drop();
}
