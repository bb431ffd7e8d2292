import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverThreads, type BackfillJob } from '../src/email/backfill.ts';
import { setupEmail, type EmailDeps } from '../src/email/deps.ts';
import { BACKFILL_QUEUE, THREAD_QUEUE } from '../src/email/queues.ts';
import { ensureInbox } from '../src/email/store.ts';
import * as state from '../src/email/sync-state.ts';
import { loadNovaConfig } from '../src/domains.ts';
import { NylasEmulator } from '../src/emulators/nylas/index.ts';
import { silentLogger } from '../src/log.ts';
import { EventHub } from '../src/queue/events.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Job } from '../src/queue/types.ts';
import type { JobContext, Services } from '../src/runtime/domain.ts';
import { RateLimiter } from '../src/runtime/rate-limit.ts';
import { backends, type TestDb } from './helpers/db.ts';

const DAY = 86_400_000;
const NOW = Math.floor(Date.now() / DAY) * DAY - DAY;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Discovery's fence: each page's transaction confirms the job's lease (`queue.holdsLease(job, tx)`)
 * before it writes, so a holder whose lease lapsed and was taken over writes nothing, while the
 * new holder carries on. The handler is called directly with each holder's job, as the runtime
 * would call it in two processes.
 */
describe.each(backends)("backfill discovery's lease fence on $name", (backend) => {
  let db: TestDb;
  let emulator: NylasEmulator;
  let services: Services;
  let deps: EmailDeps;

  beforeAll(async () => {
    db = await backend.create();
    emulator = new NylasEmulator({ apiKey: 'key-1', threadsPerGrant: 30, messagesPerThread: 1, now: NOW });
    await emulator.start();
    const config = loadNovaConfig({
      NYLAS_API_KEY: 'key-1', NYLAS_API_URI: emulator.url, NYLAS_MAX_RETRIES: '0', BACKFILL_PAGE_SIZE: '10',
      NYLAS_RATE_LIMIT_PER_SECOND: '1000', NYLAS_RATE_LIMIT_BURST: '1000',
    });
    const events = new EventHub();
    services = {
      config, sql: db.sql, queue: new QueueClient(db.sql, events), events, rateLimiter: new RateLimiter(db.sql),
      processId: 'test-fence', log: silentLogger,
    };
    deps = setupEmail(services);
  });
  afterAll(async () => {
    await emulator?.stop();
    await db?.drop();
  });

  /** An inbox with an open run and its discovery job, as POST /api/inboxes/:id/backfill leaves them. */
  async function openBackfill(grant: string): Promise<BackfillJob> {
    return db.sql.transaction(async (tx) => {
      const inbox = await ensureInbox(tx, grant);
      const configId = await state.ensureConfiguration(tx, inbox.id);
      const run = (await state.openRun(tx, configId, new Date(NOW - 300 * DAY), new Date(NOW)))!;
      await services.queue.sendBatch(BACKFILL_QUEUE, [{ payload: { configId, run }, groupKey: configId }], tx);
      return { configId, run };
    });
  }

  const claim = async (workerId: string, leaseMs: number) => {
    const [job] = await services.queue.claim<BackfillJob>(BACKFILL_QUEUE, { leaseMs, workerId, limit: 1 });
    return job!;
  };

  const context = (job: Job<BackfillJob>): JobContext<BackfillJob, EmailDeps> => ({
    job, attempt: { number: job.attempt, max: job.maxAttempts, isLast: job.attempt >= job.maxAttempts },
    signal: new AbortController().signal, log: silentLogger, progress: async () => {},
    checkpoint: (tx) => services.queue.checkpoint(job, tx), services, deps,
  });

  const written = async (configId: string) => {
    const [threads] = await db.sql.query<{ n: number }>('select count(*)::int as n from queued_threads where config_id = $1', [configId]);
    const jobs = await db.sql.query(`select 1 from nova_jobs where queue = $1 and payload->>'configId' = $2`, [THREAD_QUEUE, configId]);
    const [config] = await db.sql.query<{ backfill_checkpoint: unknown }>(
      'select backfill_checkpoint from flux_inbox_configurations where id = $1', [configId]);
    return { threads: threads!.n, jobs: jobs.length, checkpoint: config!.backfill_checkpoint };
  };

  it('refuses every write of a holder whose lease was taken over, and lets the new holder discover', async () => {
    const payload = await openBackfill('grant-fenced');
    const stale = await claim('worker-a', 50);
    await sleep(120);
    // The lease lapsed: the reaper hands the job back, and another worker takes it.
    await services.queue.reapExpired();
    const current = await claim('worker-b', 30_000);
    expect(current.id).toBe(stale.id);
    expect(current.token).not.toBe(stale.token);

    await expect(discoverThreads(payload, context(stale))).rejects.toThrow(/lost the job lease/);
    expect(await written(payload.configId)).toEqual({ threads: 0, jobs: 0, checkpoint: null });

    await discoverThreads(payload, context(current));
    const after = await written(payload.configId);
    expect(after.threads).toBeGreaterThan(10);
    expect(after.jobs).toBe(after.threads);
    expect(after.checkpoint).toMatchObject({ pages: Math.ceil(after.threads / 10) });
  });

  it('marks each saved page as a checkpoint, so a holder that dies after one is not charged the attempt', async () => {
    const payload = await openBackfill('grant-crashing');
    const doomed = await claim('worker-c', 30_000);
    expect(doomed.attempt).toBe(1);
    await discoverThreads(payload, context(doomed));
    // The process "dies" before its ack: its lease lapses and the reaper hands the job back.
    await db.sql.query(`update nova_jobs set lease_expires_at = now() - interval '1 second' where id = $1`, [doomed.id]);
    expect(await services.queue.reapExpired()).toMatchObject({ returned: 1, spent: 0 });
    const again = await claim('worker-d', 30_000);
    expect(again).toMatchObject({ id: doomed.id, attempt: 1 });
    const job = (await services.queue.getJob(doomed.id))!;
    expect((await services.queue.attemptsOf(job)).map((a) => a.outcome)).toEqual(['interrupted', 'running']);
  });
});
