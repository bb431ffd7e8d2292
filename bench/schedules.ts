/**
 * Cron schedule benchmark: a per-second schedule (`* * * * * *`) fired by several scheduler
 * processes on one PostgreSQL database. Prints numbers; asserts nothing.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:schedules
 *   BENCH_SECONDS=600 DATABASE_URL=... npm run bench:schedules        # the 10-minute target run
 *
 * Each child process runs the scheduler every Nova process runs (createScheduler, its own pool)
 * and prints one line per occurrence it fired. Reported:
 * - fire lag: the job's created_at (its transaction's start on the database clock) minus the
 *   occurrence's time, p50 / p99 / max; and the commit lag (the child's clock after commit);
 * - duplicates: occurrences claimed by more than one process (counted from the children's own
 *   reports, so the dedup key cannot hide one), and extra jobs for one occurrence in the table;
 * - misses: occurrences between the first and the last that have no job.
 *
 * Env: BENCH_SECONDS (60), BENCH_SCHEDULERS (3), DATABASE_URL (server to create a scratch
 * database `nova_bench_<random>` on; dropped at the end).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../src/log.ts';
import { QueueClient } from '../src/queue/queue.ts';
import { createSchedule, createScheduler, getSchedule } from '../src/runtime/schedules.ts';
import { openPostgres } from '../src/storage/index.ts';
import { envInt, scratchDatabase } from './support.ts';

const env = process.env;
const int = envInt;
const SECONDS = int('BENCH_SECONDS', 60);
const SCHEDULERS = int('BENCH_SCHEDULERS', 3);
const QUEUE = 'bench.tick';
const TARGET_LAG_MS = 50;

interface Fired {
  occurrence: string;
  commitLagMs: number;
  /** Set by the parent: the process (index) that reported it. */
  by?: number;
}

/** A child: one scheduler on its own pool, reporting each occurrence it fired on stdout. */
async function child(url: string): Promise<void> {
  const sql = openPostgres({ url, poolSize: 2 });
  const scheduler = createScheduler({
    sql, queue: new QueueClient(sql), log: silentLogger,
    onFired: (result) => {
      const now = Date.now();
      for (const f of result.fired) {
        const line: Fired = { occurrence: f.occurrence, commitLagMs: now - Date.parse(f.occurrence) };
        process.stdout.write(`${JSON.stringify(line)}\n`);
      }
    },
  });
  await scheduler.start();
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await scheduler.stop();
  await sql.close();
}

function startChild(url: string, index: number, fired: Map<string, number[]>, commitLags: Fired[]): { proc: ChildProcess; ready: Promise<void>; exited: Promise<void> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/schedules.ts', '--child', url], {
    stdio: ['ignore', 'pipe', 'inherit'], env: { PATH: env.PATH ?? '' },
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`scheduler ${index} exited with ${code}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line === 'ready') return resolve();
      const f = JSON.parse(line) as Fired;
      fired.set(f.occurrence, [...(fired.get(f.occurrence) ?? []), index]);
      commitLags.push({ ...f, by: index });
    });
  });
  return { proc, ready, exited };
}

function pct(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
}
const ms = (n: number) => `${n.toFixed(1)} ms`;

async function main(): Promise<void> {
  const server = env.DATABASE_URL ?? env.NOVA_TEST_DATABASE_URL;
  if (!server) throw new Error('set DATABASE_URL to a PostgreSQL server (a scratch database is created on it)');
  const db = await scratchDatabase(server);
  const fired = new Map<string, number[]>();
  const commitLags: Fired[] = [];
  const children = Array.from({ length: SCHEDULERS }, (_, i) => startChild(db.url, i, fired, commitLags));
  try {
    await Promise.all(children.map((c) => c.ready));
    await createSchedule(db.sql, { name: 'bench-every-second', cron: '* * * * * *', queue: QUEUE });
    const first = (await getSchedule(db.sql, 'bench-every-second'))!.nextRunAt!;
    console.log(`schedules: "* * * * * *" with ${SCHEDULERS} scheduler processes on PostgreSQL for ${SECONDS} s (from ${first.toISOString()})`);
    await sleep(first.getTime() - Date.now() + SECONDS * 1000 - 500);
    await db.sql.query(`update nova_schedules set enabled = false where name = 'bench-every-second'`);
    const last = new Date(first.getTime() + (SECONDS - 1) * 1000);
    await sleep(300);

    const jobs = await db.sql.query<{ scheduled_for: string; lag_ms: number }>(`
      select payload->>'scheduledFor' as scheduled_for,
             extract(epoch from created_at - (payload->>'scheduledFor')::timestamptz)::float8 * 1000 as lag_ms
      from nova_jobs where queue = $1`, [QUEUE]);
    const perOccurrence = new Map<string, number>();
    for (const j of jobs) perOccurrence.set(j.scheduled_for, (perOccurrence.get(j.scheduled_for) ?? 0) + 1);
    let misses = 0;
    for (let t = first.getTime(); t <= last.getTime(); t += 1000) if (!perOccurrence.has(new Date(t).toISOString())) misses++;
    const claimedTwice = [...fired.values()].filter((by) => by.length > 1).length;
    const extraJobs = [...perOccurrence.values()].reduce((n, c) => n + c - 1, 0);
    const lags = jobs.map((j) => j.lag_ms).sort((a, b) => a - b);
    const commits = commitLags.map((c) => c.commitLagMs).sort((a, b) => a - b);
    const share = Array.from({ length: SCHEDULERS }, (_, i) => [...fired.values()].filter((by) => by.includes(i)).length);

    console.log(`occurrences expected ${SECONDS}, jobs ${jobs.length}, distinct ${perOccurrence.size}`);
    console.log(`fire lag (job created_at - occurrence): p50 ${ms(pct(lags, 50))}  p99 ${ms(pct(lags, 99))}  max ${ms(lags.at(-1) ?? NaN)}`);
    console.log(`commit lag (after commit, child clock): p50 ${ms(pct(commits, 50))}  p99 ${ms(pct(commits, 99))}  max ${ms(commits.at(-1) ?? NaN)}`);
    // The outliers, to line up with the server's log (checkpoints, slow statements).
    const worst = [...commitLags].sort((a, b) => b.commitLagMs - a.commitLagMs).slice(0, 3);
    const fireLag = new Map(jobs.map((j) => [new Date(j.scheduled_for).toISOString(), j.lag_ms]));
    console.log(`slowest commits: ${worst.map((w) => `${w.occurrence} by process ${w.by}: fired +${ms(fireLag.get(w.occurrence) ?? NaN)}, committed +${ms(w.commitLagMs)}`).join('; ')}`);
    console.log(`duplicates: ${claimedTwice} occurrences claimed twice, ${extraJobs} extra jobs; misses: ${misses}`);
    console.log(`occurrences fired per process: ${share.join(' / ')}`);
    const onTime = (lags.at(-1) ?? Infinity) <= TARGET_LAG_MS;
    const once = claimedTwice === 0 && extraJobs === 0 && misses === 0;
    console.log(`target: every occurrence within ${TARGET_LAG_MS} ms ${onTime ? 'MET' : 'MISSED'}; exactly once ${once ? 'MET' : 'MISSED'}`);
  } finally {
    for (const c of children) c.proc.kill('SIGTERM');
    await Promise.all(children.map((c) => c.exited));
    await db.drop();
  }
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!);
} else {
  await main();
}
