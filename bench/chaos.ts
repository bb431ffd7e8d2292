/**
 * The reliability suite (issue 11): `npm run chaos`. Not part of `npm test`; a few minutes.
 *
 *   npm run chaos                              # both phases, defaults below
 *   CHAOS_SKIP_QUEUE=true npm run chaos        # only the backfill phase
 *
 * It starts a private PostgreSQL cluster (bench/chaos/cluster.ts: initdb into a temporary
 * directory, a free loopback port; as root, as the `postgres` OS user) and runs
 *   1. backfills under provider faults while workers are killed (bench/chaos/backfill.ts);
 *   2. a queue workload through PostgreSQL crashes and a worker kill (bench/chaos/queue.ts).
 * It prints the figures (faults by kind, kills, recovery times, anything lost or duplicated)
 * and exits 1 when a target is missed: anything lost, a backfill not completed, a job left
 * active or dead-lettered, an orphaned job waiting more than 2 × the lease, a duplicate effect
 * where the effect shares the ack's transaction, or a process exiting on its own.
 *
 * Env (defaults):
 *   CHAOS_LEASE_SECONDS (10)  VISIBILITY_TIMEOUT of every Nova process (production default 30)
 *   backfill: CHAOS_GRANTS (3) mailboxes of CHAOS_THREADS (1000) threads × CHAOS_MESSAGES (3);
 *     fault rates CHAOS_ERROR_RATE (0.05: 500/503), CHAOS_TRUNCATE_RATE (0.05), CHAOS_RESET_RATE
 *     (0.05), CHAOS_THROTTLE_RATE (0.01: 429 + Retry-After 1 s), CHAOS_HANG_RATE (0.002);
 *     CHAOS_NYLAS_TIMEOUT_MS (2000: what a hang costs a try); a SIGKILL every ~CHAOS_KILL_EVERY_MS
 *     (4000) during CHAOS_SECONDS (30) or until the backfills end, of a process among
 *     CHAOS_KILL_ROLES (backfill,threads: `backfill` is the discovery + completion process)
 *   queue: CHAOS_QUEUE_SECONDS (20) of sending CHAOS_QUEUE_RATE (100) jobs/s to each of two
 *     queues, CHAOS_QUEUE_WORKERS (2) workers, CHAOS_PG_RESTARTS (2) crashes of CHAOS_PG_DOWN_MS
 *     (3000), CHAOS_QUEUE_KILLS (1), CHAOS_JOB_MS (50) per job
 *   CHAOS_SKIP_BACKFILL / CHAOS_SKIP_QUEUE (true to skip a phase), CHAOS_VERBOSE (true: print
 *   the processes' warnings and errors), CHAOS_PG_BIN (directory of initdb and pg_ctl)
 */
import { runBackfillPhase } from './chaos/backfill.ts';
import { startCluster } from './chaos/cluster.ts';
import { runQueuePhase, type PhaseResult } from './chaos/queue.ts';

const env = process.env;
const num = (name: string, def: number, { min = 0, int = true } = {}) => {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (int && !Number.isInteger(value))) {
    console.error(`${name}=${raw}: must be ${int ? 'a whole number' : 'a number'} ≥ ${min}`);
    process.exit(2);
  }
  return value;
};
const rate = (name: string, def: number) => {
  const value = num(name, def, { int: false });
  if (value > 1) {
    console.error(`${name}=${value}: a rate is a fraction between 0 and 1`);
    process.exit(2);
  }
  return value;
};

const lease = num('CHAOS_LEASE_SECONDS', 10, { min: 1 });
const cluster = await startCluster();
let cleaned = false;
const cleanup = () => {
  if (cleaned) return;
  cleaned = true;
  cluster.destroy();
};
process.once('SIGINT', () => {
  cleanup();
  process.exit(130);
});

const results: { name: string; result: PhaseResult }[] = [];
const started = Date.now();
try {
  if (env.CHAOS_SKIP_BACKFILL !== 'true') {
    console.log('phase 1: backfills under provider faults and SIGKILLs');
    const result = await runBackfillPhase(cluster, {
      grants: num('CHAOS_GRANTS', 3, { min: 1 }),
      threadsPerGrant: num('CHAOS_THREADS', 1000, { min: 1 }),
      messagesPerThread: num('CHAOS_MESSAGES', 3, { min: 1 }),
      faults: {
        errorRate: rate('CHAOS_ERROR_RATE', 0.05),
        truncateRate: rate('CHAOS_TRUNCATE_RATE', 0.05),
        resetRate: rate('CHAOS_RESET_RATE', 0.05),
        throttleRate: rate('CHAOS_THROTTLE_RATE', 0.01),
        timeoutRate: rate('CHAOS_HANG_RATE', 0.002),
      },
      killSeconds: num('CHAOS_SECONDS', 30),
      killEveryMs: num('CHAOS_KILL_EVERY_MS', 4000, { min: 100 }),
      killRoles: (env.CHAOS_KILL_ROLES ?? 'backfill,threads').split(',').map((r) => r.trim()).filter(Boolean),
      leaseSeconds: lease,
      nylasTimeoutMs: num('CHAOS_NYLAS_TIMEOUT_MS', 2000, { min: 100 }),
    });
    for (const line of result.lines) console.log(`  ${line}`);
    results.push({ name: 'backfill', result });
  }
  if (env.CHAOS_SKIP_QUEUE !== 'true') {
    console.log('phase 2: a queue workload through PostgreSQL crashes');
    const result = await runQueuePhase(cluster, {
      seconds: num('CHAOS_QUEUE_SECONDS', 20, { min: 1 }),
      rate: num('CHAOS_QUEUE_RATE', 100, { min: 1 }),
      workers: num('CHAOS_QUEUE_WORKERS', 2, { min: 1 }),
      pgRestarts: num('CHAOS_PG_RESTARTS', 2),
      pgDownMs: num('CHAOS_PG_DOWN_MS', 3000),
      kills: num('CHAOS_QUEUE_KILLS', 1),
      leaseSeconds: lease,
      jobMs: num('CHAOS_JOB_MS', 50),
    });
    for (const line of result.lines) console.log(`  ${line}`);
    results.push({ name: 'queue', result });
  }
} catch (err) {
  console.error('the suite itself failed:', err);
  console.error(`PostgreSQL log (end):\n${cluster.logTail()}`);
  cleanup();
  process.exit(2);
}
cleanup();

const failures = results.flatMap((r) => r.result.failures);
console.log(`\n${failures.length ? `FAILED: ${failures.length} target(s) missed` : 'PASSED: nothing lost, every target met'} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
for (const failure of failures) console.log(`  - ${failure}`);
process.exit(failures.length ? 1 : 0);
