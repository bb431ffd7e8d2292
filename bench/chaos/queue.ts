/**
 * Phase 2 of the chaos suite: a queue workload through PostgreSQL crashes. Worker processes
 * (bench/chaos/queue-worker.ts: `nova start` with a chaos domain) consume two queues while this
 * process sends jobs at a steady rate; meanwhile the private cluster is crashed
 * (`pg_ctl stop -m immediate`) and started again, and a worker is killed with SIGKILL. At the end
 * every job whose send was acknowledged must have completed, with its effects recorded once (or,
 * for effects written outside the ack's transaction, at least once: their duplicates are counted).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { QueueClient } from '../../src/queue/queue.ts';
import { migrate, openPostgres } from '../../src/storage/index.ts';
import type { PgCluster } from './cluster.ts';
import { Supervisor } from './processes.ts';
import { ATOMIC_QUEUE, CHAOS_QUEUE } from './queue-worker.ts';
import { describeTimes, maxMs, orphansOf, percentile, seconds, watchRecovery, type Recovered } from './recovery.ts';

export interface QueuePhaseOptions {
  seconds: number;
  /** Jobs per second sent to each of the two queues. */
  rate: number;
  workers: number;
  pgRestarts: number;
  pgDownMs: number;
  kills: number;
  leaseSeconds: number;
  jobMs: number;
}

export interface PhaseResult {
  lines: string[];
  /** What broke a target; the suite exits non-zero when any phase has one. */
  failures: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Lines on the processes' own exits; returns the failures (a crash of a running process). */
export function reportExits(supervisor: Supervisor, lines: string[], phase: string): string[] {
  const p = supervisor.events;
  const crashed = p.unexpectedExits.filter((e) => e.afterStart);
  const refused = p.unexpectedExits.length - crashed.length;
  lines.push(`processes: ${crashed.length} exited on their own while running, ${refused} starts refused (database down), ${p.errors} error lines, ${p.warnings} warnings logged`);
  for (const exit of crashed) {
    const why = exit.stderr.trim() ? exit.stderr.trim().split('\n').slice(0, 6).join(' | ') : exit.tail.split('\n').slice(-2).join(' | ');
    lines.push(`  ${exit.name} exited with ${exit.code ?? exit.signal}: ${why.slice(0, 800)}`);
  }
  return crashed.length ? [`${phase}: ${crashed.length} processes exited on their own while running`] : [];
}

export async function runQueuePhase(cluster: PgCluster, o: QueuePhaseOptions): Promise<PhaseResult> {
  const lines: string[] = [];
  const failures: string[] = [];
  const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
  await admin.unsafe('create database chaos_queue');
  await admin.end();
  const url = cluster.url('chaos_queue');
  const sql = openPostgres({ url, poolSize: 4, connection: { application_name: 'nova-chaos' } });
  const dir = mkdtempSync(join(tmpdir(), 'nova-chaos-q-'));
  const supervisor = new Supervisor({
    DATABASE_URL: url, VISIBILITY_TIMEOUT: String(o.leaseSeconds), NOVA_RETAIN_COMPLETED: '100000000', NOVA_RETAIN_FAILED: '100000000',
    NOVA_REAP_INTERVAL_MS: '500', POLL_INTERVAL_MS: '1000', SHUTDOWN_TIMEOUT_MS: '5000', CHAOS_JOB_MS: String(o.jobMs),
    NOVA_DATA_DIR: dir, NOVA_QUEUE_HEALTH_LOG_MS: '600000',
  });
  try {
    await migrate(sql);
    await sql.query(`create table chaos_effects (
      id bigint generated always as identity primary key, job_id bigint not null, kind text not null,
      attempt integer not null, pid integer not null, at timestamptz not null default now())`);
    const queue = new QueueClient(sql);
    await queue.declare(CHAOS_QUEUE, 3);
    await queue.declare(ATOMIC_QUEUE, 1000);
    for (let i = 0; i < o.workers; i++) {
      await supervisor.add(`worker-${i + 1}`, ['--import', 'tsx', 'bench/chaos/queue-worker.ts'], { NOVA_PID_FILE: join(dir, `w${i}.pid`) });
    }

    // The producer: every 50 ms a batch to each queue. A send that fails, or whose answer is lost
    // to a crash, is not acknowledged: its jobs may or may not exist, and are not counted as owed.
    const acked = new Map<string, number[]>([[CHAOS_QUEUE, []], [ATOMIC_QUEUE, []]]);
    let unacked = 0;
    let n = 0;
    const started = Date.now();
    const end = started + o.seconds * 1000;
    const perTick = Math.max(1, Math.round(o.rate / 20));
    const producer = (async () => {
      for (let tick = 0; Date.now() < end; tick++) {
        for (const name of [CHAOS_QUEUE, ATOMIC_QUEUE]) {
          const items = Array.from({ length: perTick }, () => ({ payload: { n: n++ } }));
          try {
            acked.get(name)!.push(...(await queue.sendBatch(name, items)));
          } catch {
            unacked += items.length;
          }
        }
        await sleep(started + (tick + 1) * 50 - Date.now());
      }
    })();

    // The plan: crashes end equal segments of the window; kills go in the middle of the
    // segments (the database is up then, and the workers busy), round robin.
    const segment = (o.seconds * 1000) / (o.pgRestarts + 1);
    const plan = [
      ...Array.from({ length: o.pgRestarts }, (_, i) => ({ at: (i + 1) * segment, kind: 'crash' as const })),
      ...Array.from({ length: o.kills }, (_, j) => {
        const perSegment = Math.ceil(o.kills / (o.pgRestarts + 1));
        const seg = j % (o.pgRestarts + 1);
        const k = Math.floor(j / (o.pgRestarts + 1));
        return { at: seg * segment + ((k + 1) * segment) / (perSegment + 1), kind: 'kill' as const };
      }),
    ].sort((a, b) => a.at - b.at);
    const pgRecovery: Promise<Recovered[]>[] = [];
    const killRecovery: Promise<Recovered[]>[] = [];
    const outages: number[] = [];
    const watchFor = o.leaseSeconds * 4000 + 60_000;
    for (const step of plan) {
      await sleep(started + step.at - Date.now());
      if (step.kind === 'crash') {
        // Jobs in flight when the database goes: their holders' acks and heartbeats fail.
        const inFlight = await orphansOf(sql, 'crash', 0, '%').catch(() => undefined);
        const down = Date.now();
        cluster.crash();
        await sleep(o.pgDownMs);
        cluster.start();
        const up = Date.now();
        outages.push(up - down);
        // Measured from the moment the database is back: nothing can move while it is down.
        if (inFlight) pgRecovery.push(watchRecovery(sql, { ...inFlight, at: up }, watchFor));
      } else {
        const slot = supervisor.slots[Math.floor(Math.random() * supervisor.slots.length)]!;
        const at = Date.now();
        const { pid } = supervisor.kill9(slot, 1000);
        await sleep(50);
        const orphans = await orphansOf(sql, `kill ${slot.name}`, at, `%:${pid}:%`).catch(() => undefined);
        if (orphans) killRecovery.push(watchRecovery(sql, orphans, watchFor));
      }
    }
    await producer;

    // Drain: every live job of both queues finished (or the wait runs out).
    const drainDeadline = Date.now() + watchFor;
    let live = -1;
    while (Date.now() < drainDeadline) {
      try {
        live = Number((await sql.query<{ n: number }>(`select count(*)::int as n from nova_jobs where queue = any($1)`, [[CHAOS_QUEUE, ATOMIC_QUEUE]]))[0]!.n);
        if (live === 0) break;
      } catch {
        // Down: wait.
      }
      await sleep(500);
    }
    const drainedAfter = Date.now() - end;
    if (live !== 0) {
      const stuck = await sql.query(`select queue, state, count(*)::int as n, min(attempts) as min_attempts, max(attempts) as max_attempts, count(distinct locked_by)::int as holders, min(run_at) as first_due from nova_jobs where queue = any($1) group by 1, 2`, [[CHAOS_QUEUE, ATOMIC_QUEUE]]);
      for (const r of stuck) lines.push(`  left: ${JSON.stringify(r)}`);
    }
    const pgTimes = (await Promise.all(pgRecovery)).flat();
    const killTimes = (await Promise.all(killRecovery)).flat();

    // The books.
    const sent = acked.get(CHAOS_QUEUE)!.length + acked.get(ATOMIC_QUEUE)!.length;
    lines.push(`sent ${sent} acknowledged jobs (${acked.get(CHAOS_QUEUE)!.length} to ${CHAOS_QUEUE}, ${acked.get(ATOMIC_QUEUE)!.length} to ${ATOMIC_QUEUE}) over ${o.seconds} s; ${unacked} sends failed or unanswered (not owed)`);
    lines.push(`${o.pgRestarts} PostgreSQL crashes (immediate stop, down ${outages.map((ms) => seconds(ms)).join(', ') || '-'}), ${supervisor.events.kills} worker SIGKILLs; ${o.workers} workers, lease ${o.leaseSeconds} s`);
    lines.push(`drained ${live === 0 ? `${seconds(drainedAfter)} after the last send` : `NOT within ${seconds(watchFor)} (${live} jobs live)`}`);
    if (live !== 0) failures.push(`queue: ${live} jobs still live ${seconds(watchFor)} after the last send`);
    const lease = o.leaseSeconds * 1000;
    // Jobs whose holder crashed itself (see the exits below) wait for their lease; the rest show
    // how the surviving processes pick up after the outage.
    const crashedPids = new Set(supervisor.events.unexpectedExits.filter((e) => e.afterStart).map((e) => e.pid));
    const ofCrashed = pgTimes.filter((t) => crashedPids.has(t.pid));
    lines.push(`recovery after a database crash (from restart): ${describeTimes(pgTimes)} (target ≤ ${seconds(2 * lease)}: 2 × lease)`);
    if (ofCrashed.length) lines.push(`  of which held by processes that exited on their own: ${describeTimes(ofCrashed)}; held by survivors: ${describeTimes(pgTimes.filter((t) => !crashedPids.has(t.pid)))}`);
    lines.push(`recovery after SIGKILL of a worker (from the kill): ${describeTimes(killTimes)} (target ≤ ${seconds(2 * lease)})`);
    for (const [what, times] of [['database crash', pgTimes], ['worker kill', killTimes]] as const) {
      if (maxMs(times) > 2 * lease) {
        failures.push(`queue: after a ${what}, orphaned jobs waited up to ${seconds(maxMs(times))} (p50 ${seconds(percentile(times.map((t) => t.ms), 50))}), over 2 × lease`);
      }
    }

    for (const [name, kinds] of [[CHAOS_QUEUE, ['outside', 'fenced']], [ATOMIC_QUEUE, ['atomic']]] as const) {
      const ids = acked.get(name)!;
      const [books] = await sql.query<{ completed: number; dead: number; live: number; retried: number }>(`
        with owed(id) as (select unnest($1::bigint[]))
        select (select count(*)::int from owed join nova_job_results r using (id) where r.state = 'completed') as completed,
               (select count(*)::int from owed join nova_job_results r using (id) where r.state = 'dead') as dead,
               (select count(*)::int from owed join nova_jobs j using (id)) as live,
               (select count(*)::int from owed join nova_job_results r using (id) where r.attempts > 1) as retried`, [ids]);
      const missing = ids.length - books!.completed - books!.dead - books!.live;
      lines.push(`${name}: ${books!.completed} completed, ${books!.dead} dead-lettered, ${books!.live} still live, ${missing} missing; ${books!.retried} took more than one attempt`);
      if (missing > 0) failures.push(`${name}: ${missing} acknowledged jobs lost`);
      if (books!.dead > 0) failures.push(`${name}: ${books!.dead} jobs dead-lettered (their handlers never fail: crashes cost them their attempts)`);
      for (const kind of kinds) {
        const [e] = await sql.query<{ rows: number; jobs: number; absent: number; doubled: number }>(`
          with owed(id) as (select unnest($1::bigint[])),
               done as (select r.id from owed join nova_job_results r using (id) where r.state = 'completed'),
               per as (select job_id, count(*) as n from chaos_effects where kind = $2 and job_id in (select id from owed) group by job_id)
          select coalesce(sum(n), 0)::int as rows, count(*)::int as jobs,
                 (select count(*)::int from done where id not in (select job_id from per)) as absent,
                 (count(*) filter (where n > 1))::int as doubled
          from per`, [ids, kind]);
        const duplicates = e!.rows - e!.jobs;
        lines.push(`  effects "${kind}": ${e!.rows} rows for ${e!.jobs} jobs: ${duplicates} duplicates (${e!.doubled} jobs ran their effect more than once), ${e!.absent} completed jobs without one`);
        if (e!.absent > 0) failures.push(`${name}: ${e!.absent} completed jobs have no "${kind}" effect (lost)`);
        if (kind === 'atomic' && duplicates > 0) failures.push(`${name}: ${duplicates} duplicate effects written in the ack's own transaction`);
      }
    }
    failures.push(...reportExits(supervisor, lines, 'queue'));
  } finally {
    await supervisor.stopAll();
    await sql.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  return { lines, failures };
}
