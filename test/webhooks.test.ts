import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { NylasEmulator, signWebhook } from '../src/emulators/nylas/index.ts';
import { ensureInbox } from '../src/email/store.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

const SECRET = 'whsec-test';
const GRANT = 'grant-webhooks';

describe.each(backends)('Nylas webhooks on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let emulator: NylasEmulator;
  let hook: string;

  beforeAll(async () => {
    db = await backend.create();
    const port = await freePort();
    hook = `http://127.0.0.1:${port}/webhooks/nylas`;
    emulator = new NylasEmulator({ apiKey: 'key-1', webhookSecret: SECRET, webhookUrl: hook, threadsPerGrant: 5 });
    await emulator.start();
    runtime = await startRuntime(db, domains, {
      WORKER_TYPE: 'api,webhooks',
      PORT: String(port),
      API_HOST: '127.0.0.1',
      NYLAS_API_KEY: 'key-1',
      NYLAS_API_URI: emulator.url,
      NYLAS_WEBHOOK_SECRET: SECRET,
      NYLAS_MAX_RETRIES: '1',
    });
    await ensureInbox(db.sql, GRANT, 'owner@example.com', 'google');
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.stop();
    await db?.drop();
  });

  /** Posts a signed envelope built here, so a test controls its id and provider time. */
  const post = async (envelope: Record<string, unknown>, signature?: string) => {
    const body = JSON.stringify(envelope);
    const res = await fetch(hook, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-nylas-signature': signature ?? signWebhook(body, SECRET) },
      body,
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const envelope = (type: string, object: unknown, time: number, id = randomUUID()) => ({
    specversion: '1.0', type, source: '/google/emails/realtime', id, time, webhook_delivery_attempt: 1,
    data: { application_id: 'app-1', object },
  });
  const audit = async (notificationId: string) =>
    (await db.sql.query<any>('select * from flux_webhook_notifications where notification_id = $1', [notificationId]))[0];
  const settled = (notificationId: string) =>
    until(async () => ['processed', 'ignored', 'error'].includes((await audit(notificationId))?.status), 20_000, `notification ${notificationId} settled`);
  const storedMessage = async (id: string) =>
    (await db.sql.query<any>('select * from flux_email_messages where grant_id = $1 and nylas_message_id = $2', [GRANT, id]))[0];

  it('echoes the verification challenge as the raw body', async () => {
    const res = await fetch(`${hook}?challenge=abc-123`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('abc-123');
  });

  it('refuses a delivery whose signature does not match and writes nothing', async () => {
    const before = await db.sql.query<{ n: number }>('select count(*)::int as n from flux_webhook_notifications');
    const e = envelope('message.created', { id: 'x', grant_id: GRANT }, 1);
    const res = await post(e, signWebhook(JSON.stringify(e), 'wrong-secret'));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_signature');
    const noHeader = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noHeader.status).toBe(401);
    const after = await db.sql.query<{ n: number }>('select count(*)::int as n from flux_webhook_notifications');
    expect(after[0]!.n).toBe(before[0]!.n);
    expect(await audit(e.id)).toBeUndefined();
  });

  it('answers malformed JSON with 400 and records it with its error', async () => {
    const body = '{"type": "message.created", "id": ';
    const res = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json', 'x-nylas-signature': signWebhook(body, SECRET) }, body });
    expect(res.status).toBe(400);
    const [row] = await db.sql.query<any>('select * from flux_webhook_notifications where raw_body = $1', [body]);
    expect(row).toMatchObject({ status: 'error', notification_id: null });
    expect(row.error_message).toMatch(/malformed JSON/);
  });

  it('syncs a created message and its thread', async () => {
    const { message, delivery } = await emulator.createMessage(GRANT, { subject: 'Quarterly numbers ✓', body: '<p>See the attached report</p>' });
    expect(delivery?.status).toBe(200);
    await settled(delivery!.id);
    const row = await storedMessage(message.id);
    expect(row).toMatchObject({ subject: 'Quarterly numbers ✓', body: '<p>See the attached report</p>', nylas_thread_id: message.thread_id });
    expect(row.from_participants).toEqual(message.from);
    expect(row.folders).toEqual(message.folders);
    const [thread] = await db.sql.query<any>('select * from flux_email_threads where grant_id = $1 and nylas_thread_id = $2', [GRANT, message.thread_id]);
    expect(thread.message_ids).toContain(message.id);
    expect((await audit(delivery!.id)).attempts).toBe(1);
  });

  it('acknowledges a redelivery without processing it twice', async () => {
    const { message } = await emulator.createMessage(GRANT, {}, { deliver: false });
    const e = envelope('message.created', message, Math.floor(Date.now() / 1000));
    const first = await post(e);
    const second = await post({ ...e, webhook_delivery_attempt: 2 });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect([first.body.status, second.body.status]).toEqual(['accepted', 'duplicate']);
    await settled(e.id);
    const rows = await db.sql.query<any>('select attempts from flux_webhook_notifications where notification_id = $1', [e.id]);
    expect(rows).toEqual([{ attempts: 1 }]);
    const copies = await db.sql.query<any>('select id from flux_email_messages where nylas_message_id = $1', [message.id]);
    expect(copies).toHaveLength(1);
  });

  it('keeps the newer state when an older update arrives after it', async () => {
    const { message } = await emulator.createMessage(GRANT, {}, { deliver: false });
    const t = Math.floor(Date.now() / 1000);
    const newer = envelope('message.updated', { ...message, starred: true, unread: false }, t);
    const older = envelope('message.updated', { ...message, starred: false, unread: true }, t - 60);
    await post(newer);
    await settled(newer.id);
    await post(older);
    await settled(older.id);
    expect(await storedMessage(message.id)).toMatchObject({ starred: true, unread: false });
    expect((await audit(older.id)).error_message).toMatch(/older than the stored state/);
  });

  it('fetches the whole message when the notification is truncated', async () => {
    const { message, delivery } = await emulator.createMessage(GRANT, { body: '<div>long body</div>' }, { truncated: true });
    await settled(delivery!.id);
    expect((await audit(delivery!.id)).notification_type).toBe('message.created.truncated');
    expect((await storedMessage(message.id)).body).toBe('<div>long body</div>');
  });

  it('retries 429 and 5xx answers from the provider and succeeds', async () => {
    const { message } = await emulator.createMessage(GRANT, {}, { deliver: false });
    const faultsBefore = emulator.stats().faults + emulator.stats().rateLimited;
    emulator.injectFailures({ status: 429, count: 1, retryAfterSeconds: 1, pathIncludes: message.id });
    emulator.injectFailures({ status: 503, count: 2, pathIncludes: message.id });
    const e = envelope('message.updated.truncated', { id: message.id, grant_id: GRANT }, Math.floor(Date.now() / 1000));
    await post(e);
    await settled(e.id);
    expect(await audit(e.id)).toMatchObject({ status: 'processed' });
    expect(await storedMessage(message.id)).toBeDefined();
    expect(emulator.stats().faults + emulator.stats().rateLimited - faultsBefore).toBeGreaterThanOrEqual(3);
  });

  it('leaves a poison notification in error with its message after 3 attempts', async () => {
    const { message } = await emulator.createMessage(GRANT, {}, { deliver: false });
    emulator.injectFailures({ status: 500, count: 1000, pathIncludes: message.id });
    const e = envelope('message.created.truncated', { id: message.id, grant_id: GRANT }, Math.floor(Date.now() / 1000));
    await post(e);
    await until(async () => (await audit(e.id))?.status === 'error', 30_000, 'poison notification in error');
    const row = await audit(e.id);
    expect(row.attempts).toBe(3);
    expect(row.error_message).toMatch(/500/);
    expect(row.processing_duration_ms).toEqual(expect.any(Number));
  });

  it('fails only the notification whose message cannot be stored, not those processed with it', async () => {
    const t = Math.floor(Date.now() / 1000);
    const good = await Promise.all([1, 2, 3, 4, 5].map(async () => (await emulator.createMessage(GRANT, {}, { deliver: false })).message));
    const { message: bad } = await emulator.createMessage(GRANT, {}, { deliver: false });
    // A date PostgreSQL cannot hold: its row fails the statement it shares with the others.
    const envelopes = [...good.map((m) => envelope('message.created', m, t)), envelope('message.created', { ...bad, date: 1e20 }, t)];
    await Promise.all(envelopes.map((e) => post(e)));
    for (const e of envelopes.slice(0, 5)) await settled(e.id);
    await until(async () => (await audit(envelopes[5]!.id))?.status === 'error', 30_000, 'bad notification in error');
    for (const e of envelopes.slice(0, 5)) expect(await audit(e.id)).toMatchObject({ status: 'processed', attempts: 1 });
    for (const m of good) expect(await storedMessage(m.id)).toBeDefined();
    expect(await audit(envelopes[5]!.id)).toMatchObject({ status: 'error', attempts: 3, error_message: expect.stringMatching(/out of range/) });
    expect(await storedMessage(bad.id)).toBeUndefined();
  });

  const storedThread = async (id: string) =>
    (await db.sql.query<any>('select * from flux_email_threads where grant_id = $1 and nylas_thread_id = $2', [GRANT, id]))[0];

  it('deletes a message on message.deleted, out of its thread, unless newer state is stored', async () => {
    const { message: kept, delivery: first } = await emulator.createMessage(GRANT, {});
    const { message, delivery } = await emulator.createMessage(GRANT, { threadId: kept.thread_id });
    await settled(first!.id);
    await settled(delivery!.id);
    expect((await storedThread(message.thread_id)).message_ids).toEqual(expect.arrayContaining([kept.id, message.id]));

    const t = Math.floor(Date.now() / 1000) + 5;
    const deleted = envelope('message.deleted', { id: message.id, grant_id: GRANT }, t);
    await post(deleted);
    await settled(deleted.id);
    expect(await audit(deleted.id)).toMatchObject({ status: 'processed' });
    expect((await storedMessage(message.id)).deleted_at).toEqual(new Date(t * 1000));
    const thread = await storedThread(message.thread_id);
    expect(thread.message_ids).toContain(kept.id);
    expect(thread.message_ids).not.toContain(message.id);

    // A deletion older than the state stored for the message changes nothing.
    const older = envelope('message.deleted', { id: kept.id, grant_id: GRANT }, 1);
    await post(older);
    await settled(older.id);
    expect(await audit(older.id)).toMatchObject({ status: 'ignored', error_message: expect.stringMatching(/newer state stored/) });
    expect((await storedMessage(kept.id)).deleted_at).toBeNull();
  });

  it('refreshes the thread from the provider on thread.replied', async () => {
    const { message: original, delivery } = await emulator.createMessage(GRANT, { subject: 'Lunch?' });
    await settled(delivery!.id);
    // The reply reaches the provider, but only thread.replied tells Nova about it.
    const { message: reply } = await emulator.createMessage(GRANT, { threadId: original.thread_id, subject: 'Re: Lunch?' }, { deliver: false });
    expect((await storedThread(original.thread_id)).message_ids).not.toContain(reply.id);

    const replied = envelope('thread.replied', { grant_id: GRANT, thread_id: original.thread_id, message_id: reply.id }, Math.floor(Date.now() / 1000));
    await post(replied);
    await settled(replied.id);
    expect(await audit(replied.id)).toMatchObject({ status: 'processed' });
    const thread = await storedThread(original.thread_id);
    expect(thread.message_ids).toEqual(emulator.getThread(GRANT, original.thread_id)!.message_ids);
    expect(thread.message_ids).toContain(reply.id);

    const unknown = envelope('thread.replied', { grant_id: 'grant-unknown', thread_id: original.thread_id }, 1);
    await post(unknown);
    await settled(unknown.id);
    expect(await audit(unknown.id)).toMatchObject({ status: 'ignored', error_message: expect.stringMatching(/no inbox is connected/) });
  });

  it('marks the inbox when its grant expires, and ignores types it does not handle', async () => {
    await ensureInbox(db.sql, 'grant-expiring', null, 'google');
    const expired = envelope('grant.expired', { code: 25009, grant_id: 'grant-expiring', provider: 'google' }, 1);
    const other = envelope('calendar.created', { id: 'c-1', grant_id: GRANT }, 1);
    await post(expired);
    await post(other);
    await settled(expired.id);
    await settled(other.id);
    const [inbox] = await db.sql.query<any>('select status from flux_inboxes where grant_id = $1', ['grant-expiring']);
    expect(inbox.status).toBe('auth_expired');
    expect(await audit(other.id)).toMatchObject({ status: 'ignored' });
  });

  it("answers the seed README's monitoring queries unchanged", async () => {
    // "Check Recent Webhook Activity", verbatim.
    const activity = await db.sql.query<any>(`SELECT 
  notification_type,
  status,
  COUNT(*),
  AVG(processing_duration_ms) as avg_duration_ms
FROM flux_webhook_notifications
WHERE received_at > NOW() - INTERVAL '1 hour'
GROUP BY notification_type, status;`);
    const created = activity.find((r) => r.notification_type === 'message.created' && r.status === 'processed');
    expect(Number(created.count)).toBeGreaterThanOrEqual(2);
    expect(activity.find((r) => r.notification_type === 'calendar.created')?.status).toBe('ignored');
    // "Failed webhooks", verbatim.
    const failed = await db.sql.query<any>(`SELECT * FROM flux_webhook_notifications 
WHERE status = 'error'
ORDER BY received_at DESC 
LIMIT 10;`);
    expect(failed.map((r) => r.notification_type)).toEqual(expect.arrayContaining(['message.created.truncated', null]));
    expect(failed.every((r) => r.error_message)).toBe(true);
    const metrics = await db.sql.query<any>(`select * from get_webhook_metrics('1 hour')`);
    expect(metrics.find((m) => m.notification_type === 'message.created.truncated')?.errors).toBe(1);
  });
});
