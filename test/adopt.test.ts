import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { adoptSeedDatabase, isSeedDatabase } from '../src/email/adopt.ts';
import { NylasEmulator } from '../src/emulators/nylas/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { migrate, type Sql } from '../src/storage/index.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

const SCHEMA = readFileSync(new URL('./fixtures/seed-001-schema.sql', import.meta.url), 'utf8');
const PGMQ = readFileSync(new URL('./fixtures/seed-001-pgmq.sql', import.meta.url), 'utf8');
const GRANT = 'grant-seed';
const KEY = 'key-seed';
const PAGE = 4;
const DAY = 86_400;

/** Every table's rows as JSON, and the catalog of the public and pgmq schemas: what --plan must not change. */
async function fingerprint(sql: Sql): Promise<string> {
  const tables = await sql.query<{ schema: string; name: string }>(
    `select schemaname as schema, tablename as name from pg_tables where schemaname in ('public', 'pgmq') order by 1, 2`);
  const parts: unknown[] = [tables];
  for (const t of tables) parts.push(await sql.query(`select * from "${t.schema}"."${t.name}" order by 1`));
  parts.push(await sql.query(`select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns
                              where table_schema = 'public' order by 1, 2`));
  parts.push(await sql.query(`select conname, pg_get_constraintdef(oid) as def from pg_constraint where connamespace = 'public'::regnamespace order by 1`));
  parts.push(await sql.query(`select indexname from pg_indexes where schemaname = 'public' order by 1`));
  parts.push(await sql.query(`select p.oid::regprocedure::text as f from pg_proc p where p.pronamespace = 'public'::regnamespace order by 1`));
  return JSON.stringify(parts);
}

describe.each(backends)('adopting a seed 001 database on $name', (backend) => {
  let db: TestDb;
  let emulator: NylasEmulator;
  let runtime: Runtime | undefined;
  const startedAt = Math.floor(Date.now() / 1000) - 60;
  const window = { after: startedAt - 365 * DAY, before: startedAt };
  let expected: string[] = [];
  const seed = { inbox: randomUUID(), config: randomUUID(), doneInbox: randomUUID(), doneConfig: randomUUID(), queuedInbox: randomUUID(), queuedConfig: randomUUID(), queuedIds: [] as number[] };
  const pending: { rowId: string; envelope: any; messageId: string }[] = [];
  let rawEnvelope: any;
  let before: Record<string, number> = {};

  const api = async (path: string) => {
    const res = await fetch(`${emulator.url}/v3/grants/${GRANT}${path}`, { headers: { authorization: `Bearer ${KEY}` } });
    return (await res.json()) as { data: any[]; next_cursor?: string };
  };
  const page = (token?: string) =>
    api(`/threads?limit=${PAGE}&latest_message_after=${window.after}&latest_message_before=${window.before}${token ? `&page_token=${token}` : ''}`);
  const q = <T extends object = any>(text: string, params: unknown[] = []) => db.sql.query<T>(text, params);
  const counts = async () => Object.fromEntries(await Promise.all(
    ['flux_inboxes', 'flux_inbox_configurations', 'flux_email_threads', 'flux_email_messages', 'flux_webhook_notifications', 'inbox_sync_stats', 'queued_threads']
      .map(async (t) => [t, (await q<{ n: number }>(`select count(*)::int as n from ${t}`))[0]!.n] as const)));

  beforeAll(async () => {
    db = await backend.create({ migrate: false });
    emulator = new NylasEmulator({ apiKey: KEY, threadsPerGrant: 20, messagesPerThread: 2 });
    await emulator.start();
    await db.sql.exec(SCHEMA);
    await db.sql.exec(PGMQ);

    // What the seed did before it stopped: discovered two pages, synced three threads.
    const first = await page();
    const second = await page(first.next_cursor);
    for (let token = second.next_cursor, all = [...first.data, ...second.data]; ; ) {
      expected = all.map((t) => t.id);
      if (!token) break;
      const next = await page(token);
      all.push(...next.data);
      token = next.next_cursor;
    }
    expect(expected.length).toBeGreaterThan(2 * PAGE);
    const discovered = [...first.data, ...second.data];
    await q(`insert into flux_inboxes (id, user_id, grant_id, email, provider) values ($1, $2, $3, 'a@seed.test', 'google'), ($4, $2, 'grant-done', 'b@seed.test', 'google')`,
      [seed.inbox, randomUUID(), GRANT, seed.doneInbox]);
    await q(`insert into flux_inbox_configurations (id, inbox_id, backfill_status, backfill_started_at, backfill_progress)
             values ($1, $2, 'discovering', to_timestamp($3), $4::text::jsonb), ($5, $6, 'completed', now() - interval '2 days', '{}')`,
      [seed.config, seed.inbox, startedAt, JSON.stringify({ checkpoint: { page_token: second.next_cursor, pages_processed: 2, threads_discovered: 2 * PAGE } }), seed.doneConfig, seed.doneInbox]);
    for (const [i, t] of discovered.entries()) {
      const status = i < 3 ? 'completed' : i === 3 ? 'processing' : 'queued';
      const [row] = await q<{ id: number }>(`insert into queued_threads (config_id, thread_id, status, messages_synced) values ($1, $2, $3, $4) returning id`,
        [seed.config, t.id, status, i < 3 ? 2 : 0]);
      seed.queuedIds.push(row!.id);
      if (i >= 3) continue;
      const [thread] = await q<{ id: string }>(`insert into flux_email_threads (inbox_id, nylas_thread_id, subject, message_ids, latest_message_received_date)
        values ($1, $2, $3, $4::text::jsonb, to_timestamp($5)) returning id`, [seed.inbox, t.id, t.subject, JSON.stringify(t.message_ids), t.latest_message_received_date]);
      for (const m of (await api(`/messages?thread_id=${t.id}`)).data) {
        await q(`insert into flux_email_messages (inbox_id, thread_id, nylas_message_id, nylas_thread_id, subject, from_participants, date, body)
          values ($1, $2, $3, $4, $5, $6::text::jsonb, to_timestamp($7)::timestamp, $8)`, [seed.inbox, thread!.id, m.id, t.id, m.subject, JSON.stringify(m.from), m.date, m.body]);
      }
    }
    await q(`insert into inbox_sync_stats (config_id, inbox_id, backfill_status, threads_queued, threads_completed, messages_synced)
             values ($1, $2, 'discovering', $3, 3, 6)`, [seed.config, seed.inbox, discovered.length]);
    // The seed's trigger puts each audit row on PGMQ as it is inserted: two still pending.
    for (let i = 0; i < 2; i++) {
      const { message } = await emulator.createMessage(GRANT, {}, { deliver: false });
      const envelope = { specversion: '1.0', type: 'message.created', id: randomUUID(), time: Math.floor(Date.now() / 1000), data: { application_id: 'app', object: message } };
      const [row] = await q<{ id: string }>(`insert into flux_webhook_notifications (notification_id, notification_type, grant_id, payload, status)
        values ($1, 'message.created', $2, $3::text::jsonb, $4) returning id`, [envelope.id, GRANT, JSON.stringify(envelope), i === 0 ? 'pending' : 'processing']);
      pending.push({ rowId: row!.id, envelope, messageId: message.id });
    }
    await q(`insert into flux_webhook_notifications (notification_id, notification_type, grant_id, status, processing_duration_ms, processed_at)
             values ('old-1', 'message.updated', $1, 'processed', 120, now()), ('old-2', 'message.created', $1, 'error', 40, now())`, [GRANT]);
    // Messages still waiting in PGMQ: the listed threads' sync jobs and one raw envelope.
    for (const t of discovered.slice(3)) await q(`select pgmq_send('thread_sync_jobs', $1::text::jsonb)`, [JSON.stringify({ config_id: seed.config, thread_id: t.id, grant_id: GRANT })]);
    // A backfill the seed queued and never started.
    await q(`insert into flux_inboxes (id, user_id, grant_id) values ($1, $2, 'grant-queued')`, [seed.queuedInbox, randomUUID()]);
    await q(`insert into flux_inbox_configurations (id, inbox_id) values ($1, $2)`, [seed.queuedConfig, seed.queuedInbox]);
    await q(`select pgmq_send('inbox_backfill_jobs', $1::text::jsonb)`, [JSON.stringify({ config_id: seed.queuedConfig, grant_id: 'grant-queued' })]);
    const { message } = await emulator.createMessage(GRANT, {}, { deliver: false });
    rawEnvelope = { specversion: '1.0', type: 'message.created', id: randomUUID(), time: Math.floor(Date.now() / 1000), data: { application_id: 'app', object: message } };
    await q(`select pgmq_send('nylas_webhook_notifications', $1::text::jsonb)`, [JSON.stringify(rawEnvelope)]);
    before = await counts();
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.stop();
    await db?.drop();
  });

  it('plans the adoption without changing anything', async () => {
    expect(await isSeedDatabase(db.sql)).toBe(true);
    const snapshot = await fingerprint(db.sql);
    const report = await adoptSeedDatabase(db.sql, { plan: true });
    expect(report).toMatchObject({ seed: true, committed: false, refusals: [] });
    expect(report.steps).toEqual(expect.arrayContaining([
      'add column flux_email_messages.grant_id text',
      'fill flux_email_messages.grant_id from related rows',
      'set flux_email_messages.grant_id not null',
      'change type of flux_email_messages.date from timestamp without time zone to timestamp with time zone',
      'add column flux_inbox_configurations.backfill_run integer default 0 not null',
      'create table backfill_history',
      'allow null in flux_inboxes.user_id (kept; Nova does not write it)',
    ]));
    expect(report.steps.some((s) => /drop the seed's trigger queued_threads_stats/.test(s))).toBe(true);
    expect(report.migrations).toContain('0009_email_compat');
    expect(report.queued).toEqual({ inbox_backfill_jobs: 1, thread_sync_jobs: 2 * PAGE - 3, nylas_webhook_notifications: 2 });
    expect(report.imported).toEqual({ nylas_webhook_notifications: 3, inbox_backfill_jobs: 1, thread_sync_jobs: 2 * PAGE - 3 });
    expect(await fingerprint(db.sql)).toBe(snapshot);
  });

  it('adopts it keeping every row, id and status, and moves the PGMQ messages once', async () => {
    const report = await adoptSeedDatabase(db.sql, { plan: false });
    expect(report).toMatchObject({ seed: true, committed: true, refusals: [] });
    expect(await counts()).toEqual(before);
    expect(await isSeedDatabase(db.sql)).toBe(false);
    expect(await migrate(db.sql)).toEqual([]);
    const adopted = await q<{ id: number; name: string }>(`select id, name from nova_migrations where id in (3, 4) order by id`);
    expect(adopted.map((r) => r.name)).toEqual(['0003_email (adopted)', '0004_backfill (adopted)']);
    expect((await q(`select id, status from queued_threads where config_id = $1 order by id`, [seed.config])).map((r) => r.id)).toEqual(seed.queuedIds);
    expect((await q(`select grant_id from flux_email_messages where inbox_id = $1 limit 1`, [seed.inbox]))[0]).toEqual({ grant_id: GRANT });
    expect((await q(`select backfill_status, backfill_run, backfill_checkpoint from flux_inbox_configurations where id = $1`, [seed.config]))[0])
      .toMatchObject({ backfill_status: 'discovering', backfill_run: 1, backfill_checkpoint: { pages: 2, listed: 2 * PAGE, queued: 2 * PAGE } });
    expect((await q(`select backfill_status from flux_inbox_configurations where id = $1`, [seed.doneConfig]))[0]).toEqual({ backfill_status: 'completed' });
    for (const t of ['q_nylas_webhook_notifications', 'q_thread_sync_jobs']) expect((await q(`select count(*)::int as n from pgmq.${t}`))[0]).toEqual({ n: 0 });
    // One job per thread left to sync, one per pending webhook (plus the raw envelope), one discovery.
    const jobs = await q<{ queue: string; n: number }>(`select queue, count(*)::int as n from nova_jobs group by queue order by queue`);
    expect(jobs).toEqual([
      { queue: 'inbox_backfill_jobs', n: 2 }, { queue: 'nylas_webhook_notifications', n: 3 }, { queue: 'thread_sync_jobs', n: 2 * PAGE - 3 },
    ]);
    const [queued] = await q(`select backfill_run, backfill_status from flux_inbox_configurations where id = $1`, [seed.queuedConfig]);
    expect(queued).toEqual({ backfill_run: 1, backfill_status: 'pending' });
    expect((await q(`select payload from nova_jobs where queue = 'inbox_backfill_jobs' and payload ->> 'configId' = $1`, [seed.queuedConfig]))[0])
      .toEqual({ payload: { configId: seed.queuedConfig, run: 1 } });
    // Importing again finds nothing left to move.
    expect((await db.sql.transaction(async (tx) => (await import('../src/email/pgmq-import.ts')).importPgmq(tx)))).toEqual({
      nylas_webhook_notifications: 0, inbox_backfill_jobs: 0, thread_sync_jobs: 0,
    });
  });

  it('resumes the backfill from its checkpoint and processes the pending webhooks', async () => {
    runtime = await startRuntime(db, domains, {
      WORKER_TYPE: 'webhooks,backfill,threads,completion', NYLAS_API_KEY: KEY, NYLAS_API_URI: emulator.url,
      BACKFILL_PAGE_SIZE: String(PAGE), COMPLETION_CHECK_INTERVAL_MS: '100',
    });
    await until(async () => (await q(`select backfill_status from flux_inbox_configurations where id = $1`, [seed.config]))[0]?.backfill_status === 'completed', 60_000, 'adopted backfill completed');
    const threads = await q<{ thread_id: string; status: string }>(`select thread_id, status from queued_threads where config_id = $1 order by id`, [seed.config]);
    expect(threads.map((t) => t.thread_id).sort()).toEqual([...expected].sort());
    expect(threads.every((t) => t.status === 'completed')).toBe(true);
    // Pages 1 and 2 were not listed again: the count carried over from the seed adds up exactly.
    const [{ backfill_checkpoint: cp }] = await q(`select backfill_checkpoint from flux_inbox_configurations where id = $1`, [seed.config]);
    expect(cp).toMatchObject({ listed: expected.length, pageToken: null });
    const [stats] = await q(`select * from inbox_sync_stats where config_id = $1`, [seed.config]);
    expect(stats).toMatchObject({ backfill_status: 'completed', threads_queued: expected.length, threads_completed: expected.length, messages_synced: 2 * expected.length });
    expect(stats.sync_completed_at).not.toBeNull();

    for (const p of [...pending, { envelope: rawEnvelope, messageId: rawEnvelope.data.object.id }]) {
      await until(async () => (await q(`select status from flux_webhook_notifications where notification_id = $1`, [p.envelope.id]))[0]?.status === 'processed', 20_000, 'pending webhook processed');
      expect((await q(`select count(*)::int as n from flux_email_messages where nylas_message_id = $1`, [p.messageId]))[0]).toEqual({ n: 1 });
    }
    expect((await q(`select status from flux_webhook_notifications where notification_id in ('old-1', 'old-2') order by notification_id`)).map((r) => r.status)).toEqual(['processed', 'error']);
  });

  it('refuses, changing nothing, what it cannot reconcile', async () => {
    const other = await backend.create({ migrate: false });
    try {
      await other.sql.exec(SCHEMA);
      await other.sql.query(`insert into flux_inboxes (user_id, grant_id, status) values ($1, 'g-1', 'paused')`, [randomUUID()]);
      await other.sql.query(`insert into flux_email_threads (nylas_thread_id) values ('orphan-without-inbox')`);
      const snapshot = await fingerprint(other.sql);
      const report = await adoptSeedDatabase(other.sql, { plan: false });
      expect(report.committed).toBe(false);
      expect(report.refusals.join('\n')).toMatch(/flux_inboxes.*status/);
      expect(report.refusals.join('\n')).toMatch(/flux_email_threads\.grant_id/);
      expect(await fingerprint(other.sql)).toBe(snapshot);
    } finally {
      await other.drop();
    }
  });
});
