import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { NylasEmulator, signWebhook } from '../src/emulators/nylas/index.ts';
import { ensureInbox } from '../src/email/store.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

/** Seed 001's SQL surface (migration 0009): what SQL-only producers and callers rely on. */
describe.each(backends)('the seed SQL surface on $name', (backend) => {
  const SECRET = 'whsec-compat';
  const GRANT = 'grant-compat';
  let db: TestDb;
  let runtime: Runtime;
  let emulator: NylasEmulator;
  let hook: string;
  let inboxId: string;

  beforeAll(async () => {
    db = await backend.create();
    const port = await freePort();
    hook = `http://127.0.0.1:${port}/webhooks/nylas`;
    emulator = new NylasEmulator({ apiKey: 'key-c', webhookSecret: SECRET, webhookUrl: hook, threadsPerGrant: 3 });
    await emulator.start();
    inboxId = (await ensureInbox(db.sql, GRANT, 'owner@example.com', 'google')).id;
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.stop();
    await db?.drop();
  });

  const q = async <T = any>(text: string, params: unknown[] = []) => db.sql.query<T & object>(text, params);
  const envelope = (message: unknown, id = randomUUID()) => ({
    specversion: '1.0', type: 'message.created', source: '/google/emails/realtime', id, time: Math.floor(Date.now() / 1000),
    webhook_delivery_attempt: 1, data: { application_id: 'app', object: message },
  });
  const newMessage = async () => (await emulator.createMessage(GRANT, {}, { deliver: false })).message;
  const audit = async (notificationId: string) => (await q('select * from flux_webhook_notifications where notification_id = $1', [notificationId]))[0];
  const stored = async (messageId: string) => (await q('select id from flux_email_messages where nylas_message_id = $1', [messageId])).length;
  /** Every job, live or finished, made for one audit row. */
  const jobsFor = async (rowId: string) => (await q<{ n: number }>(
    `select count(*)::int as n from (select payload from nova_jobs union all select payload from nova_job_results) j
     where j.payload ->> 'notificationId' = $1`, [rowId]))[0]!.n;

  it('lists the seed queues right after migrating, before any process started', async () => {
    const names = (await q<{ queue_name: string }>('select queue_name from flux_pgmq_list_queues()')).map((r) => r.queue_name);
    expect(names).toEqual(expect.arrayContaining(['inbox_backfill_jobs', 'nylas_webhook_notifications', 'thread_sync_jobs']));
  });

  it('queues a webhook row inserted by SQL and an envelope recorded by queue_nylas_webhook_notification once', async () => {
    const message = await newMessage();
    const e = envelope(message);
    const [{ id }] = await q<{ id: string }>(
      `insert into flux_webhook_notifications (notification_id, notification_type, grant_id, payload) values ($1, $2, $3, $4::text::jsonb) returning id`,
      [e.id, e.type, GRANT, JSON.stringify(e)],
    ) as [{ id: string }];
    expect(await jobsFor(id)).toBe(1);

    const other = envelope(await newMessage());
    const [{ row }] = await q<{ row: string }>('select queue_nylas_webhook_notification($1::text::jsonb) as row', [JSON.stringify(other)]) as [{ row: string }];
    const [{ again }] = await q<{ again: string }>('select queue_nylas_webhook_notification($1::text::jsonb) as again', [JSON.stringify(other)]) as [{ again: string }];
    expect(again).toBe(row);
    expect(await jobsFor(row)).toBe(1);
    expect(await audit(other.id)).toMatchObject({ notification_type: 'message.created', grant_id: GRANT, status: 'pending' });
  });

  it('processes SQL-inserted rows, raw envelopes sent with flux_pgmq_send, and intake deliveries once each', async () => {
    const port = Number(new URL(hook).port);
    runtime = await startRuntime(db, domains, {
      WORKER_TYPE: 'api,webhooks', PORT: String(port), API_HOST: '127.0.0.1', NYLAS_API_KEY: 'key-c', NYLAS_API_URI: emulator.url,
      NYLAS_WEBHOOK_SECRET: SECRET,
    });
    const viaInsert = await newMessage();
    const inserted = envelope(viaInsert);
    await q(`insert into flux_webhook_notifications (notification_id, notification_type, grant_id, payload) values ($1, $2, $3, $4::text::jsonb)`,
      [inserted.id, inserted.type, GRANT, JSON.stringify(inserted)]);
    const viaPgmq = await newMessage();
    const raw = envelope(viaPgmq);
    await q(`select flux_pgmq_send('nylas_webhook_notifications', $1::text::jsonb, 0)`, [JSON.stringify(raw)]);
    const viaIntake = await newMessage();
    const delivered = envelope(viaIntake);
    const body = JSON.stringify(delivered);
    const res = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json', 'x-nylas-signature': signWebhook(body, SECRET) }, body });
    expect(res.status).toBe(200);

    for (const e of [inserted, raw, delivered]) {
      await until(async () => (await audit(e.id))?.status === 'processed', 20_000, `${e.id} processed`);
      expect((await audit(e.id)).attempts).toBe(1);
      expect(await jobsFor((await audit(e.id)).id)).toBeLessThanOrEqual(1);
    }
    expect([await stored(viaInsert.id), await stored(viaPgmq.id), await stored(viaIntake.id)]).toEqual([1, 1, 1]);
    // The intake's own job is the only one: the insert trigger left its row alone.
    expect(await jobsFor((await audit(delivered.id)).id)).toBe(1);

    // The same raw envelope again is a redelivery: acknowledged, not processed twice.
    await q(`select flux_pgmq_send('nylas_webhook_notifications', $1::text::jsonb, 0)`, [JSON.stringify(raw)]);
    await until(async () => (await q<{ n: number }>(`select count(*)::int as n from nova_jobs where queue = 'nylas_webhook_notifications'`))[0]!.n === 0);
    expect((await audit(raw.id)).attempts).toBe(1);
  });

  it('acknowledge_webhook_notification records an outcome by row id or envelope id', async () => {
    const e = envelope({ id: 'x', grant_id: 'nobody' });
    await q(`insert into flux_webhook_notifications (notification_id, status, payload) values ($1, 'error', $2::text::jsonb)`, [e.id, JSON.stringify(e)]);
    const [{ ok }] = await q<{ ok: boolean }>(`select acknowledge_webhook_notification($1, 'processed', null, 42) as ok`, [e.id]) as [{ ok: boolean }];
    expect(ok).toBe(true);
    expect(await audit(e.id)).toMatchObject({ status: 'processed', processing_duration_ms: 42 });
    const [{ none }] = await q<{ none: boolean }>(`select acknowledge_webhook_notification('no-such-id') as none`) as [{ none: boolean }];
    expect(none).toBe(false);
  });

  it('runs a backfill through the seed functions: queue, list threads, stats, transition, thread jobs', async () => {
    const [{ job }] = await q<{ job: number }>('select queue_inbox_backfill($1) as job', [inboxId]) as [{ job: number }];
    const [backfillJob] = await q('select payload, dedup_key, group_key from nova_jobs where id = $1', [job]);
    const [config] = await q<{ id: string; backfill_status: string; backfill_run: number }>(
      'select id, backfill_status, backfill_run from flux_inbox_configurations where inbox_id = $1', [inboxId]);
    expect(backfillJob).toMatchObject({ payload: { configId: config!.id, run: 1 }, dedup_key: `${config!.id}:run:1`, group_key: config!.id });
    expect(config).toMatchObject({ backfill_status: 'pending', backfill_run: 1 });
    const [{ busy }] = await q<{ busy: number | null }>('select queue_inbox_backfill($1) as busy', [inboxId]) as [{ busy: number | null }];
    expect(busy).toBeNull();

    const cfg = config!.id;
    const added = [];
    for (const t of ['t1', 't2', 't2', 't3']) added.push((await q<{ a: boolean }>('select insert_queued_thread_idempotent($1, $2, $3) as a', [cfg, GRANT, t]))[0]!.a);
    expect(added).toEqual([true, true, false, true]);
    expect((await q('select threads_queued from inbox_sync_stats where config_id = $1', [cfg]))[0]).toEqual({ threads_queued: 3 });

    const [{ ok }] = await q<{ ok: boolean }>(`select update_backfill_orchestration_progress($1, '{"pages": 2}'::jsonb) as ok`, [cfg]) as [{ ok: boolean }];
    expect(ok).toBe(true);
    expect((await q('select backfill_progress from flux_inbox_configurations where id = $1', [cfg]))[0]).toEqual({ backfill_progress: { pages: 2 } });

    await q(`update inbox_sync_stats set threads_queued = 99 where config_id = $1`, [cfg]);
    const [stats] = await q('select * from initialize_sync_stats($1)', [cfg]);
    expect(stats).toMatchObject({ config_id: cfg, threads_queued: 3, threads_completed: 0 });

    const [{ n }] = await q<{ n: number }>('select transition_to_thread_sync($1) as n', [cfg]) as [{ n: number }];
    expect(n).toBe(3);
    expect((await q('select backfill_status from flux_inbox_configurations where id = $1', [cfg]))[0]).toEqual({ backfill_status: 'thread_sync' });
    const threadJobs = await q<{ id: number; payload: unknown }>(`select id, payload from nova_jobs where queue = 'thread_sync_jobs' order by id`);
    expect(threadJobs.map((j) => j.payload)).toEqual(['t1', 't2', 't3'].map((threadId) => ({ configId: cfg, threadId })));
    const [{ same }] = await q<{ same: number }>(`select queue_thread_sync($1, 't2') as same`, [cfg]) as [{ same: number }];
    expect(same).toBe(threadJobs[1]!.id);
    const [{ fresh }] = await q<{ fresh: number }>(`select queue_thread_sync($1, 't4', $2) as fresh`, [cfg, GRANT]) as [{ fresh: number }];
    expect(fresh).toBeGreaterThan(threadJobs[2]!.id);

    // get_sync_progress and inbox_sync_stats agree on threads_queued: every thread queued.
    await q(`update queued_threads set status = 'completed' where config_id = $1 and thread_id = 't1'`, [cfg]);
    const [progress] = await q<{ threads_queued: number; threads_waiting: number; threads_completed: number }>('select * from get_sync_progress($1)', [cfg]);
    const [counted] = await q<{ threads_queued: number }>('select threads_queued from initialize_sync_stats($1)', [cfg]);
    expect(progress).toMatchObject({ threads_queued: 4, threads_waiting: 3, threads_completed: 1 });
    expect(counted!.threads_queued).toBe(progress!.threads_queued);
  });
});
