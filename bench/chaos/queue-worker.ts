/**
 * A queue worker for the chaos suite's PostgreSQL-restart phase, started by bench/chaos/queue.ts
 * as `node --import tsx bench/chaos/queue-worker.ts`. It is `nova start chaos` with one more
 * domain: the production CLI path (signals, runtime, consumers, heartbeats, reaper), plus a
 * queue whose handler records its side effects in `chaos_effects`, keyed by job id:
 *
 * - `outside`: an insert that commits on its own before the handler returns; the runtime's ack
 *   follows in another statement, so a crash or an outage between the two runs the job again
 *   and leaves a second row (at-least-once);
 * - `fenced`:  an insert in a transaction that first confirms the job's lease
 *   (`queue.holdsLease(job, tx)`, the pattern of src/email/backfill.ts): no write from a holder
 *   that lost its lease, but the ack is still a separate statement.
 *
 * and a loop of its own on the queue `chaos.atomic` that writes the effect and the ack (the
 * queue's COMPLETE statement) in one transaction: a job either ran and is acknowledged, or
 * neither, so a duplicate effect is impossible by construction; the suite checks it.
 */
import { buildCli } from '../../src/cli/commands.ts';
import { QueueClient } from '../../src/queue/queue.ts';
import { LeaseLost } from '../../src/queue/errors.ts';
import { COMPLETE } from '../../src/queue/sql.ts';
import { defineDomain, defineQueue } from '../../src/runtime/domain.ts';
import type { Sql } from '../../src/storage/index.ts';

export const CHAOS_QUEUE = 'chaos.effects';
export const ATOMIC_QUEUE = 'chaos.atomic';

const JOB_MS = Number(process.env.CHAOS_JOB_MS ?? 5);
const pause = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const done = () => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', done);
    resolve();
  };
  const timer = setTimeout(done, ms);
  signal?.addEventListener('abort', done, { once: true });
});

/** Claims chaos.atomic jobs and records each one's effect together with its ack. */
async function atomicLoop(sql: Sql, workerId: string, leaseMs: number, signal: AbortSignal): Promise<void> {
  const queue = new QueueClient(sql);
  while (!signal.aborted) {
    try {
      const jobs = await queue.claim(ATOMIC_QUEUE, { limit: 16, leaseMs, workerId });
      if (jobs.length === 0) {
        await pause(50, signal);
        continue;
      }
      for (const job of jobs) {
        await pause(JOB_MS);
        await sql.transaction(async (tx) => {
          const done = await tx.query(COMPLETE, [[job.id], [job.token], true, [null], [job.attempt], [], [], []]);
          if (done.length === 0) return; // the lease went elsewhere: no effect from this holder
          await tx.query(`insert into chaos_effects (job_id, kind, attempt, pid) values ($1, 'atomic', $2, $3)`, [job.id, job.attempt, process.pid]);
        });
      }
    } catch {
      // The database is away: what was claimed comes back when its lease lapses.
      await pause(200, signal);
    }
  }
}

const chaos = defineDomain<{ stop: AbortController }>({
  name: 'chaos',
  roles: ['chaos'],
  setup: (services) => {
    const stop = new AbortController();
    const leaseMs = services.config.VISIBILITY_TIMEOUT * 1000;
    void atomicLoop(services.sql, `${services.processId}:atomic`, leaseMs, stop.signal);
    return { stop };
  },
  stop: async (deps) => deps.stop.abort(),
  queues: [
    defineQueue<{ n: number }, { stop: AbortController }>({
      name: CHAOS_QUEUE,
      role: 'chaos',
      concurrency: 8,
      handler: async (_payload, ctx) => {
        const { job, services } = ctx;
        await services.sql.query(`insert into chaos_effects (job_id, kind, attempt, pid) values ($1, 'outside', $2, $3)`, [job.id, job.attempt, process.pid]);
        await pause(JOB_MS);
        await services.sql.transaction(async (tx) => {
          if (!(await services.queue.holdsLease(job, tx))) throw new LeaseLost(job.id);
          await tx.query(`insert into chaos_effects (job_id, kind, attempt, pid) values ($1, 'fenced', $2, $3)`, [job.id, job.attempt, process.pid]);
        });
      },
    }),
  ],
});

// Only as a script: the suite imports the queue names from here.
if (process.argv[1]?.endsWith('queue-worker.ts')) {
  await buildCli([chaos]).parseAsync([process.argv[0]!, 'nova', 'start', 'chaos']);
}
