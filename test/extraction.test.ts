import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { NylasEmulator } from '../src/emulators/nylas/index.ts';
import { createExtractionDomain, EXTRACTION_QUEUE, EXTRACTION_SCHEMA_VERSION } from '../src/extraction/index.ts';
import { queueExtractions } from '../src/extraction/queueing.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { extractionRows, insertMessage, loopContext } from './helpers/extraction.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

const SECRET = 'whsec-extraction';
const GRANT = 'grant-extraction-e2e';

describe.each(backends)('extraction with the builtin provider on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let nylas: NylasEmulator;
  let api: string;

  beforeAll(async () => {
    db = await backend.create();
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    nylas = new NylasEmulator({ apiKey: 'key-x', webhookSecret: SECRET, webhookUrl: `${api}/webhooks/nylas`, threadsPerGrant: 2 });
    await nylas.start();
    await db.sql.query(`insert into flux_inboxes (grant_id, email, provider) values ($1, 'owner@example.com', 'google')`, [GRANT]);
    runtime = await startRuntime(db, domains, {
      WORKER_TYPE: 'api,webhooks,extraction-queue,extraction',
      PORT: String(port), API_HOST: '127.0.0.1',
      NYLAS_API_KEY: 'key-x', NYLAS_API_URI: nylas.url, NYLAS_WEBHOOK_SECRET: SECRET,
      EXTRACTION_QUEUE_INTERVAL_MS: '100',
    }, { health: true });
  });
  afterAll(async () => {
    await runtime?.stop();
    await nylas?.stop();
    await db?.drop();
  });

  const messageIdOf = async (nylasId: string) =>
    (await db.sql.query<{ id: string }>('select id from flux_email_messages where nylas_message_id = $1', [nylasId]))[0]?.id;
  const liveJobs = async () =>
    (await db.sql.query<{ n: number }>('select count(*)::int as n from nova_jobs where queue = $1', [EXTRACTION_QUEUE]))[0]!.n;

  it('extracts a message synced by a webhook with no manual step, and serves it over the API', async () => {
    const { message } = await nylas.createMessage(GRANT, {
      subject: 'Contract for Globex',
      body: '<p>Hi Sam,</p><p>Legal review is pending approval, so we are on hold. Could you send the signed contract by 2025-04-04? The fee is $4,000.</p><p>-- <br>Ana</p>',
    });
    await until(async () => (await messageIdOf(message.id)) !== undefined, 20_000, 'message synced');
    const id = (await messageIdOf(message.id))!;
    await until(async () => (await extractionRows(db.sql, id))[0]?.status === 'succeeded', 20_000, 'extraction stored');

    const [row] = await extractionRows(db.sql, id);
    expect(row).toMatchObject({ schema_version: EXTRACTION_SCHEMA_VERSION, provider: 'builtin', calls: 1 });
    expect(row!.result.blocker.isBlocker).toBe(true);
    expect(row!.result.amounts).toEqual([{ text: '$4,000', value: 4000, currency: 'USD' }]);
    expect(row!.result.actionItems[0]).toMatchObject({ dueDate: '2025-04-04' });
    expect(row!.result.meta).toMatchObject({ schemaVersion: EXTRACTION_SCHEMA_VERSION, provider: 'builtin' });

    const res = await fetch(`${api}/api/messages/${id}/extraction`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ messageId: id, status: 'succeeded', stale: false, provider: 'builtin' });
    expect(body.extraction.blocker.isBlocker).toBe(true);
  });

  it('answers 404 for an unknown message and 400 for an id that is not one', async () => {
    const missing = await fetch(`${api}/api/messages/00000000-0000-4000-8000-000000000000/extraction`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as any).error.code).toBe('not_found');
    const bad = await fetch(`${api}/api/messages/nope/extraction`);
    expect(bad.status).toBe(400);
  });

  it('queues nothing new on a second run of extraction-queue, even with jobs still live', async () => {
    // The runtime's loop is running too; a direct run here is a second pass over the same messages.
    const ids = [await insertMessage(db.sql, { grant: GRANT }), await insertMessage(db.sql, { grant: GRANT })];
    await until(async () => (await Promise.all(ids.map((i) => extractionRows(db.sql, i)))).every((r) => r.length === 1), 20_000, 'queued');
    const jobsBefore = await liveJobs();
    const again = await queueExtractions(loopContext(runtime.service), { schemaVersion: EXTRACTION_SCHEMA_VERSION, batch: 100, requeueAfterMs: 3_600_000 });
    expect(again).toEqual({ queued: 0, resent: 0 });
    expect(await liveJobs()).toBeLessThanOrEqual(jobsBefore);
    await until(async () => (await Promise.all(ids.map((i) => extractionRows(db.sql, i)))).every((r) => r[0]?.status === 'succeeded'), 20_000, 'extracted');
    const rows = await db.sql.query<{ n: number }>('select count(*)::int as n from email_extractions where message_id = any($1::uuid[])', [ids]);
    expect(rows[0]!.n).toBe(2);
  });

  it('re-sends a message queued long ago whose job was lost, without doubling a live one', async () => {
    const id = await insertMessage(db.sql, { grant: GRANT });
    await until(async () => (await extractionRows(db.sql, id))[0]?.status === 'succeeded', 20_000, 'extracted');
    // Simulate a lost job: the row says queued, no job exists (the finished one is acked first).
    await until(async () => (await db.sql.query('select 1 from nova_jobs where queue = $1 and dedup_key = $2', [EXTRACTION_QUEUE, id])).length === 0, 20_000, 'job acked');
    await db.sql.query(`update email_extractions set status = 'queued', result = null, queued_at = now() - interval '2 hours' where message_id = $1`, [id]);
    const run = await queueExtractions(loopContext(runtime.service), { schemaVersion: EXTRACTION_SCHEMA_VERSION, batch: 100, requeueAfterMs: 60_000 });
    expect(run.resent).toBe(1);
    await until(async () => (await extractionRows(db.sql, id))[0]?.status === 'succeeded', 20_000, 're-extracted');
  });

  it('shows the extraction queue in /status', async () => {
    const res = await fetch(`http://127.0.0.1:${runtime.healthPort}/status`);
    const status = (await res.json()) as any;
    const q = status.queues.find((x: any) => x.name === EXTRACTION_QUEUE);
    expect(q).toMatchObject({ role: 'extraction', concurrency: 8 });
    expect(q.outcomes.completed).toBeGreaterThanOrEqual(4);
    expect(q.depth).toMatchObject({ queue: EXTRACTION_QUEUE });
    expect(status.loops.find((l: any) => l.name === 'extraction-queue')).toMatchObject({ singleton: true, leader: true });
  });

  it('re-queues stale extractions after a schema-version bump and keeps the old rows', async () => {
    const id = await insertMessage(db.sql, { grant: GRANT, body: 'We are blocked by the budget freeze.' });
    await until(async () => (await extractionRows(db.sql, id))[0]?.status === 'succeeded', 20_000, 'v1 extracted');
    const total = (await db.sql.query<{ n: number }>('select count(*)::int as n from flux_email_messages where deleted_at is null'))[0]!.n;

    // The version-1 workers stop, as they do when a deploy replaces them.
    await runtime.stop();
    const next = EXTRACTION_SCHEMA_VERSION + 1;
    const v2 = await startRuntime(db, [createExtractionDomain({ schemaVersion: next })], { WORKER_TYPE: 'extraction' });
    try {
      const run = await queueExtractions(loopContext(v2.service), { schemaVersion: next, batch: 2, requeueAfterMs: 3_600_000 });
      // Every message, in batches of two; and nothing on a second pass.
      expect(run.queued).toBe(total);
      expect((await queueExtractions(loopContext(v2.service), { schemaVersion: next, batch: 2, requeueAfterMs: 3_600_000 })).queued).toBe(0);
      await until(async () => (await extractionRows(db.sql, id)).map((r) => r.status).join() === 'succeeded,succeeded', 20_000, 'v2 extracted');
      const rows = await extractionRows(db.sql, id);
      expect(rows.map((r) => r.schema_version)).toEqual([EXTRACTION_SCHEMA_VERSION, next]);
      expect(rows[1]!.result.meta.schemaVersion).toBe(next);
      expect(rows[1]!.result.blocker).toEqual({ isBlocker: true, reason: 'We are blocked by the budget freeze.' });
    } finally {
      await v2.stop();
    }
  });
});
