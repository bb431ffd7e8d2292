/**
 * Queue engine benchmark with no-op jobs. Prints numbers; asserts nothing.
 *
 *   npx tsx bench/queue.ts                                          # PGlite only
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/queue.ts   # + PostgreSQL
 *
 * Per backend, in this order on one fresh database:
 *   1. enqueue:   BENCH_JOBS jobs through QueueClient.sendBatch, BENCH_SEND_BATCH per statement,
 *                 BENCH_SENDERS statements in flight (no consumer running yet);
 *   2. processed: a Runtime drains those jobs through the real consumer path (claim, run, batched
 *                 ack) at BENCH_CONCURRENCY, claiming BENCH_BATCH at a time;
 *   3. latency:   BENCH_LATENCY_JOBS jobs sent one at a time to the now idle consumer, which only
 *                 LISTEN/NOTIFY wakes; from just before send() to the handler's first line.
 *
 * Env: BENCH_JOBS (20000), BENCH_CONCURRENCY (10), BENCH_BATCH (unset: adaptive, the default),
 * BENCH_ANALYZE (false: no statistics, as on a fresh install), BENCH_SEND_BATCH (1000),
 * BENCH_SENDERS (4), BENCH_LATENCY_JOBS (1000), BENCH_PGLITE_DIR (unset: in memory),
 * BENCH_BACKENDS (comma list of pglite,postgres; default both),
 * NOVA_PUBLISH_EVENTS (true, the production default), DATABASE_URL (server to create a scratch
 * database `nova_bench_<random>` on; it is dropped at the end), BENCH_PG_PID_FILE (a local
 * server's postmaster.pid: the drain's server CPU is read from /proc).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { loadNovaConfig as loadConfig } from '../src/domains.ts';
import { silentLogger } from '../src/log.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Domain } from '../src/runtime/domain.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { migrate, openPglite, openPostgres, type Sql } from '../src/storage/index.ts';
import { envInt, serverCpuMs } from './support.ts';

const env = process.env;
const int = envInt;
const JOBS = int('BENCH_JOBS', 20_000);
const CONCURRENCY = int('BENCH_CONCURRENCY', 10);
// Unset: the engine's default (adaptive claim size), which is what a user gets.
const CLAIM_BATCH = env.BENCH_BATCH ? int('BENCH_BATCH', 200) : undefined;
// Off by default: a user's first minutes have no analyze step either.
const ANALYZE = env.BENCH_ANALYZE === 'true';
const SEND_BATCH = int('BENCH_SEND_BATCH', 1000);
const SENDERS = int('BENCH_SENDERS', 4);
const LATENCY_JOBS = int('BENCH_LATENCY_JOBS', 1000);
const PUBLISH_EVENTS = env.NOVA_PUBLISH_EVENTS ?? 'true';
const QUEUE = 'bench';
// A stalled phase (a lost wake-up with no poll to rescue it, a deadlock) fails instead of hanging.
const STALL_MS = 60_000;

/** The team's targets; PGlite is only held to a processed-throughput floor. */
const TARGETS = {
  postgres: { enqueue: 20_000, processed: 20_000, p50: 2, p99: 8 },
  pglite: { processed: 5_000 } as { enqueue?: number; processed?: number; p50?: number; p99?: number },
};

interface Backend {
  name: 'pglite' | 'postgres';
  /** The producer's connection (QueueClient.send / sendBatch). */
  sql: Sql;
  /** How the runtime reaches the database: the same Sql (PGlite is one in-process database) or its own pool. */
  runtime: { sql?: Sql; env: Record<string, string> };
  close(): Promise<void>;
}

async function pglite(): Promise<Backend> {
  const sql = await openPglite(env.BENCH_PGLITE_DIR || undefined);
  await migrate(sql);
  return { name: 'pglite', sql, runtime: { sql, env: {} }, close: () => sql.close() };
}

async function server(url: string): Promise<Backend> {
  const name = `nova_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  const sql = openPostgres({ url: dbUrl.toString(), poolSize: 10 });
  await migrate(sql);
  return {
    name: 'postgres',
    sql,
    // The runtime opens its own pool, as a worker process would: producer and consumer traffic
    // do not queue behind each other on one pool.
    runtime: { env: { DATABASE_URL: dbUrl.toString(), NOVA_DB_POOL_SIZE: '10' } },
    async close() {
      await sql.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** Where the handler reports; each phase points it at its own bookkeeping. */
let onHandlerStart: (payload: { i: number }) => void = () => {};

const domain: Domain = {
  name: 'bench',
  roles: ['bench'],
  queues: [{
    name: QUEUE, role: 'bench', concurrency: CONCURRENCY, ...(CLAIM_BATCH && { batchSize: CLAIM_BATCH }),
    handler: async (payload) => onHandlerStart(payload as { i: number }),
  }],
};

/** Resolves with the time at which `n` more jobs of the bench queue have been acknowledged (committed). */
function whenAcked(runtime: Runtime, n: number): Promise<number> {
  let count = 0;
  return new Promise((resolve) => {
    const off = runtime.events.on((e) => {
      if (e.type !== 'completed' || e.queue !== QUEUE) return;
      count += e.ids?.length ?? 0;
      if (count >= n) {
        off();
        resolve(performance.now());
      }
    });
  });
}

function stallGuard<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${STALL_MS} ms`)), STALL_MS);
  });
  return Promise.race([p, stalled]).finally(() => clearTimeout(timer));
}

const items = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => ({ payload: { i: from + k } }));

async function enqueue(queue: QueueClient): Promise<number> {
  let next = 0;
  const sender = async () => {
    while (next < JOBS) {
      const from = next;
      next = Math.min(JOBS, next + SEND_BATCH);
      await queue.sendBatch(QUEUE, items(from, next));
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: SENDERS }, sender));
  return JOBS / ((performance.now() - t0) / 1000);
}

/**
 * CPU time per 1,000 drained jobs: steadier than jobs/s on a shared machine, where wall-clock
 * figures swing with the neighbours' load. The server's share needs BENCH_PG_PID_FILE (support.ts).
 */
let cpu: { nodeMsPer1k: number; serverMsPer1k: number | null } = { nodeMsPer1k: 0, serverMsPer1k: null };
const round = (n: number) => Math.round(n * 10) / 10;

async function drain(runtime: Runtime): Promise<{ perSec: number; ms: number; startupMs: number }> {
  let firstStart = 0;
  onHandlerStart = () => {
    firstStart ||= performance.now();
  };
  const allAcked = whenAcked(runtime, JOBS);
  const t0 = performance.now();
  await runtime.start();
  const cpu0 = { node: process.cpuUsage(), server: serverCpuMs() };
  const done = await stallGuard(allAcked, 'drain');
  const node = process.cpuUsage(cpu0.node);
  const server = serverCpuMs();
  cpu = {
    nodeMsPer1k: round(((node.user + node.system) / 1000 / JOBS) * 1000),
    serverMsPer1k: server === null || cpu0.server === null ? null : round(((server - cpu0.server) / JOBS) * 1000),
  };
  // Clocked from the first handler start: runtime start-up (migrations check, LISTEN) is not queue work.
  const ms = done - firstStart;
  return { perSec: JOBS / (ms / 1000), ms, startupMs: firstStart - t0 };
}

async function latency(runtime: Runtime, producer: QueueClient): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_JOBS; i++) {
    const started = new Promise<number>((resolve) => (onHandlerStart = () => resolve(performance.now())));
    const acked = whenAcked(runtime, 1);
    const t0 = performance.now();
    await producer.send(QUEUE, { i });
    samples.push((await stallGuard(started, `latency job ${i}`)) - t0);
    await stallGuard(acked, `latency ack ${i}`);
    // Lets the consumer finish its idle bookkeeping (next-due lookup) so each send finds it asleep.
    await sleep(2);
  }
  return samples.sort((a, b) => a - b);
}

const pct = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;

async function bench(backend: Backend) {
  const producer = new QueueClient(backend.sql);
  const enqueuePerSec = await enqueue(producer);
  // BENCH_ANALYZE=true gives the planner statistics first, as autovacuum would soon have them;
  // by default the bench measures what a user's first minutes see.
  if (ANALYZE) await backend.sql.exec('analyze nova_jobs');

  const runtime = new Runtime({
    config: loadConfig({
      ...backend.runtime.env,
      WORKER_TYPE: 'bench',
      ...(CLAIM_BATCH && { BATCH_SIZE: String(CLAIM_BATCH) }),
      // The fallback poll only; a lost notification would show up as a ~1 s latency outlier.
      POLL_INTERVAL_MS: '1000',
      NOVA_PUBLISH_EVENTS: PUBLISH_EVENTS,
      SHUTDOWN_TIMEOUT_MS: '5000',
    }),
    domains: [domain],
    health: false,
    logger: silentLogger,
    ...(backend.runtime.sql && { sql: backend.runtime.sql }),
  });
  try {
    const processed = await drain(runtime);
    const [left] = await backend.sql.query<{ n: number }>('select count(*)::int as n from nova_jobs where queue = $1', [QUEUE]);
    if (left?.n) throw new Error(`${left.n} jobs still in nova_jobs after the drain`);
    const lat = await latency(runtime, producer);
    return {
      backend: backend.name, jobs: JOBS, concurrency: CONCURRENCY, claimBatch: CLAIM_BATCH ?? 'auto', analyzed: ANALYZE,
      sendBatch: SEND_BATCH, senders: SENDERS, publishEvents: loadConfig({ NOVA_PUBLISH_EVENTS: PUBLISH_EVENTS }).NOVA_PUBLISH_EVENTS,
      enqueuePerSec: Math.round(enqueuePerSec),
      processedPerSec: Math.round(processed.perSec), drainMs: Math.round(processed.ms), startupMs: Math.round(processed.startupMs),
      cpuNodeMsPer1k: cpu.nodeMsPer1k, cpuServerMsPer1k: cpu.serverMsPer1k,
      latencyJobs: lat.length, latencyP50Ms: round2(pct(lat, 0.5)), latencyP99Ms: round2(pct(lat, 0.99)),
      latencyMaxMs: round2(lat[lat.length - 1] ?? NaN),
    };
  } finally {
    onHandlerStart = () => {};
    await runtime.stop();
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100;

function report(r: Awaited<ReturnType<typeof bench>>): void {
  const t = TARGETS[r.backend];
  const row = (label: string, value: string, target: string, ok: boolean | undefined) =>
    console.log(`  ${label.padEnd(34)}${value.padStart(16)}   ${target.padEnd(12)}${ok === undefined ? '' : ok ? 'ok' : 'MISSED'}`);
  const fmt = (n: number) => n.toLocaleString('en-US');
  console.log(`\n${r.backend} (jobs=${r.jobs}, concurrency=${r.concurrency}, claim batch=${r.claimBatch}, publishEvents=${r.publishEvents})`);
  row(`enqueue (sendBatch ${r.sendBatch} x ${r.senders})`, `${fmt(r.enqueuePerSec)} jobs/s`, t.enqueue ? `>= ${fmt(t.enqueue)}` : '', t.enqueue ? r.enqueuePerSec >= t.enqueue : undefined);
  row(`processed (${fmt(r.drainMs)} ms drain)`, `${fmt(r.processedPerSec)} jobs/s`, t.processed ? `>= ${fmt(t.processed)}` : '', t.processed ? r.processedPerSec >= t.processed : undefined);
  row('CPU per 1,000 jobs (node / server)', `${r.cpuNodeMsPer1k} / ${r.cpuServerMsPer1k ?? '?'} ms`, '', undefined);
  row(`start latency p50 (${r.latencyJobs} jobs)`, `${r.latencyP50Ms} ms`, t.p50 ? `<= ${t.p50}` : '', t.p50 ? r.latencyP50Ms <= t.p50 : undefined);
  row('start latency p99 / max', `${r.latencyP99Ms} / ${r.latencyMaxMs} ms`, t.p99 ? `<= ${t.p99}` : '', t.p99 ? r.latencyP99Ms <= t.p99 : undefined);
  console.log(JSON.stringify({ at: new Date().toISOString(), ...r }));
}

const backends: [string, () => Promise<Backend>][] = [['pglite', pglite]];
if (env.DATABASE_URL) backends.push(['postgres', () => server(env.DATABASE_URL!)]);
const only = env.BENCH_BACKENDS?.split(',');
for (const [, open] of backends.filter(([name]) => !only || only.includes(name))) {
  const backend = await open();
  try {
    report(await bench(backend));
  } finally {
    await backend.close();
  }
}
