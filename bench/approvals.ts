/**
 * Approvals benchmark. Prints numbers; asserts nothing.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:approvals
 *
 * On a scratch database, with built `nova` processes (a workflow-runner and a hitl-worker)
 * running the shipped `demo.expense` (an approval with a form, then a `pay` step):
 *   1. decision → resumed: BENCH_SEQUENTIAL runs one at a time; each approval decided (the
 *      API's `decide`) as soon as it is pending; the decision's commit (decided_at) → the `pay`
 *      step started (its started_at), both on the database host's clock;
 *   2. BENCH_WAITING (10,000) runs waiting for an approval at once: active tick jobs (worker slots
 *      held) and the runner's RSS and CPU while they wait;
 *   3. BENCH_TIMEOUTS (1,000) approvals whose timeouts fall due together: from the first due time
 *      to the last one applied (status timed_out, run ticked).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { decide, startRun } from '../src/workflows/index.ts';
import { envInt, cpuMs, mb, rssBytes, startNova, type NovaChild, p50p99, workflowBench } from './support.ts';

const env = process.env;
const int = envInt;
const SEQUENTIAL = int('BENCH_SEQUENTIAL', 200);
const WAITING = int('BENCH_WAITING', 10_000);
const TIMEOUTS = int('BENCH_TIMEOUTS', 1_000);

if (!env.DATABASE_URL) {
  console.error('bench:approvals needs DATABASE_URL (the processes share the database; PGlite is single-process)');
  process.exit(2);
}

const { db, events, services, engine } = await workflowBench(env.DATABASE_URL);
const waiting = new Map<string, () => void>();
const ended = new Map<string, () => void>();
events.on((e) => {
  const id = (e.data as { runId?: string }).runId;
  if (!id) return;
  if (e.type === 'run.waiting') waiting.get(id)?.();
  if (e.type === 'run.completed' || e.type === 'run.failed') ended.get(id)?.();
});

const procEnv = { DATABASE_URL: db.url, POLL_INTERVAL_MS: '1000', APPROVAL_LINK_SECRET: 'bench-approval-link-secret-0123456789abcdef' };
const input = (timeoutMs = 86_400_000) => ({ amount: 100, approvers: ['manager'], timeoutMs });

/** Starts `n` runs, 32 at a time; returns their ids. */
async function startMany(n: number, make: () => unknown): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next++ < n) ids.push((await startRun(engine, 'demo.expense', make())).run.id);
  }));
  return ids;
}

async function approvalOf(runId: string): Promise<string> {
  for (;;) {
    const [row] = await db.sql.query<{ id: string }>(`select id from approvals where run_id = $1 and status = 'pending'`, [runId]);
    if (row) return row.id;
    await sleep(1);
  }
}

let procs: NovaChild[] = [];
try {
  console.log(`bench:approvals on ${new URL(db.url).host}`);
  procs = await Promise.all([startNova('workflow-runner', procEnv), startNova('hitl-worker', procEnv)]);
  const [runner, hitl] = procs;

  // 1. Decision → run resumed and its next step started.
  const one = async () => {
    let resumed!: () => void;
    const done = new Promise<void>((r) => (resumed = r));
    const { run } = await startRun(engine, 'demo.expense', input());
    const approvalId = await approvalOf(run.id);
    ended.set(run.id, resumed);
    await decide(engine, { approvalId, by: 'manager', decision: 'approve', data: { amount: 50, costCentre: 'ops' }, channel: 'api', ip: null });
    await done;
    ended.delete(run.id);
    return run.id;
  };
  for (let i = 0; i < 20; i++) await one(); // warm up
  const ids: string[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) ids.push(await one());
  const rows = await db.sql.query<{ ms: number }>(
    `select extract(epoch from (s.started_at - d.decided_at)) * 1000 as ms
     from approvals a join approval_decisions d on d.approval_id = a.id join run_steps s on s.run_id = a.run_id and s.step_id = 'pay'
     where a.run_id = any($1::uuid[])`, [ids]);
  console.log(`decision committed → run resumed and its next step started (${rows.length} sequential): ${p50p99(rows.map((r) => Number(r.ms)))} (target p50 ≤ 20 ms)`);

  // 2. Many runs waiting at once.
  const w0 = performance.now();
  const waiters = await startMany(WAITING, () => input());
  for (;;) {
    const [row] = await db.sql.query<{ n: number }>(`select count(*)::int as n from approvals where status = 'pending' and run_id = any($1::uuid[])`, [waiters]);
    if (row!.n >= WAITING) break;
    await sleep(200);
  }
  console.log(`${WAITING} runs waiting for an approval after ${((performance.now() - w0) / 1000).toFixed(1)} s`);
  const cpu0 = [cpuMs(runner!.child.pid), cpuMs(hitl!.child.pid)];
  const c0 = performance.now();
  await sleep(5000);
  const cpu = [cpuMs(runner!.child.pid), cpuMs(hitl!.child.pid)].map((c, i) => ((100 * (c - cpu0[i]!)) / (performance.now() - c0)).toFixed(1));
  const ticks = await services.queue.metrics('workflow.tick');
  console.log(`  while they wait: ${ticks.active} active tick jobs (worker slots held); CPU runner ${cpu[0]} %, hitl-worker ${cpu[1]} %; RSS runner ${mb(rssBytes(runner!.child.pid))}, hitl-worker ${mb(rssBytes(hitl!.child.pid))}`);
  await db.sql.query(`update approvals set status = 'cancelled', resolved_at = now() where status = 'pending'`);

  // 3. Timeouts falling due together: each run's timeout ends at the same instant.
  const due = Date.now() + 15_000 + TIMEOUTS * int('BENCH_START_MARGIN_MS', 150);
  const timed = await startMany(TIMEOUTS, () => input(Math.max(1, due - Date.now())));
  for (;;) {
    const [row] = await db.sql.query<{ n: number }>(`select count(*)::int as n from approvals where run_id = any($1::uuid[])`, [timed]);
    if (row!.n >= TIMEOUTS) break;
    await sleep(200);
  }
  if (Date.now() > due) console.log('  (the timeouts fell due before all approvals existed: raise the margin)');
  for (;;) {
    const [row] = await db.sql.query<{ n: number }>(`select count(*)::int as n from approvals where run_id = any($1::uuid[]) and status = 'timed_out'`, [timed]);
    if (row!.n >= TIMEOUTS) break;
    await sleep(100);
  }
  // The timeout runs from the approval's creation (the run's first tick), so under load they fall
  // due over the time the runner took to tick them all: each one's lag is measured from its own due time.
  const lags = (await db.sql.query<{ ms: number }>(
    `select extract(epoch from (resolved_at - timeout_at)) * 1000 as ms from approvals where run_id = any($1::uuid[])`, [timed])).map((r) => Number(r.ms));
  const [burst] = await db.sql.query<{ n: number }>(
    `select max(n)::int as n from (select count(*) as n from approvals where run_id = any($1::uuid[]) group by date_trunc('second', timeout_at)) x`, [timed]);
  console.log(`${TIMEOUTS} timeouts (at most ${burst!.n} due in the same second): applied after their due time ${p50p99(lags)}, max ${Math.max(...lags).toFixed(0)} ms (target: all within 2000 ms; 1 hitl-worker)`);
} finally {
  await Promise.all(procs.map((p) => p.stop()));
  await db.drop();
}
