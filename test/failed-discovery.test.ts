import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { ensureInbox } from '../src/email/store.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

/** Seed 001's "Monitor Active Syncs" query, verbatim. */
const ACTIVE_SYNCS = `
SELECT
  config_id,
  backfill_status,
  threads_queued,
  threads_completed,
  threads_processing,
  threads_failed,
  messages_synced,
  ROUND((threads_completed::NUMERIC / threads_queued) * 100, 2) as percent_complete
FROM inbox_sync_stats
WHERE sync_completed_at IS NULL`;

describe.each(backends)('a discovery that fails on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime | undefined;
  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(async () => {
    await runtime?.stop();
    await db.drop();
  });

  it('closes its inbox_sync_stats row, so the seed no longer lists it as active', async () => {
    const inbox = await ensureInbox(db.sql, 'grant-fails', 'x@example.com', 'google');
    const [{ job }] = await db.sql.query<{ job: number }>('select queue_inbox_backfill($1) as job', [inbox.id]) as [{ job: number }];
    expect(job).toBeGreaterThan(0);
    const [{ id: configId }] = await db.sql.query<{ id: string }>('select id from flux_inbox_configurations where inbox_id = $1', [inbox.id]) as [{ id: string }];
    // Discovery had queued a thread (the counters row exists) when the grant stopped working.
    await db.sql.query(`update flux_inbox_configurations set backfill_status = 'discovering' where id = $1`, [configId]);
    await db.sql.query(`select insert_queued_thread_idempotent($1, 'grant-fails', 'thread-1')`, [configId]);
    await db.sql.query(`update flux_inboxes set status = 'auth_expired' where id = $1`, [inbox.id]);
    expect((await db.sql.query(ACTIVE_SYNCS)).map((r) => r.config_id)).toEqual([configId]);

    runtime = await startRuntime(db, domains, { WORKER_TYPE: 'backfill', NYLAS_API_KEY: 'unused', NYLAS_API_URI: 'http://127.0.0.1:9' });
    await until(async () => (await db.sql.query<{ backfill_status: string }>('select backfill_status from flux_inbox_configurations where id = $1', [configId]))[0]?.backfill_status === 'failed', 20_000, 'discovery failed');
    const [stats] = await db.sql.query<{ backfill_status: string; sync_completed_at: Date | null }>('select backfill_status, sync_completed_at from inbox_sync_stats where config_id = $1', [configId]);
    expect(stats!.backfill_status).toBe('failed');
    expect(stats!.sync_completed_at).toBeInstanceOf(Date);
    expect(await db.sql.query(ACTIVE_SYNCS)).toEqual([]);
    const [config] = await db.sql.query<{ backfill_error: string }>('select backfill_error from flux_inbox_configurations where id = $1', [configId]);
    expect(config!.backfill_error).toMatch(/auth_expired/);
  });
});
