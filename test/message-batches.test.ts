import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../src/email/nylas/wire.ts';
import { upsertMessages, type MessageWrite } from '../src/email/message-batches.ts';
import { deleteMessage, ensureInbox, upsertMessage, type InboxRow } from '../src/email/store.ts';
import { backends, type TestDb } from './helpers/db.ts';

/**
 * upsertMessages (the `webhooks` role's batched write) must leave the mailbox exactly as the same
 * writes made one at a time with upsertMessage (a batch of one) would: each grant below receives the same writes,
 * one way or the other, and the two copies are compared.
 */
describe.each(backends)('batched message writes on $name', (backend) => {
  let db: TestDb;
  let one: InboxRow;
  let many: InboxRow;

  beforeAll(async () => {
    db = await backend.create();
    one = await ensureInbox(db.sql, 'grant-one-by-one', 'a@example.com', 'google');
    many = await ensureInbox(db.sql, 'grant-batched', 'b@example.com', 'google');
  });
  afterAll(async () => {
    await db?.drop();
  });

  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const msg = (id: string, thread: string, fields: Partial<Message> = {}): Message => ({
    id, grant_id: '', thread_id: thread, subject: `subject ${id}`, from: [{ name: `From ${id}`, email: `${id}@example.com` }],
    to: [{ email: 'owner@example.com' }], cc: [], bcc: [], reply_to: [], date: 1_767_225_600 + Number(id.slice(1)) * 60,
    unread: true, starred: false, snippet: `snippet ${id}`, body: `<p>${id}</p>`, folders: ['INBOX'], attachments: [], headers: null,
    ...fields,
  });
  const forGrant = (w: MessageWrite, grant: string): MessageWrite => ({ ...w, message: { ...w.message, grant_id: grant } });

  /** Applies `writes` one by one to the first grant and as one batch to the second; returns both outcomes. */
  async function both(writes: MessageWrite[]) {
    const sequential = [];
    for (const w of writes) sequential.push(await upsertMessage(db.sql, forGrant(w, one.grant_id).message, w.version));
    const batched = await upsertMessages(db.sql, writes.map((w) => forGrant(w, many.grant_id)));
    return { sequential, batched };
  }

  async function mailbox(grant: string) {
    const messages = await db.sql.query(
      `select nylas_message_id, nylas_thread_id, subject, from_participants, to_participants, date, unread, starred,
              snippet, body, folders, attachments, headers, source_version, deleted_at
       from flux_email_messages where grant_id = $1 order by nylas_message_id`, [grant]);
    const threads = await db.sql.query(
      `select nylas_thread_id, subject, snippet, participants, message_ids, folders, has_attachments, unread, starred,
              earliest_message_date, latest_message_received_date, latest_message_sent_date
       from flux_email_threads where grant_id = $1 order by nylas_thread_id`, [grant]);
    return { messages, threads };
  }

  it('stores new messages and their threads as one-by-one writes do', async () => {
    const writes = [
      { message: msg('m1', 't1'), version: at(1) },
      { message: msg('m2', 't1', { folders: ['SENT'], attachments: [{ id: 'a1', filename: 'x.pdf' }] }), version: at(1) },
      { message: msg('m3', 't2', { cc: [{ email: 'cc@example.com' }], starred: true }), version: at(1) },
      { message: msg('m4', 't1', { unread: false }), version: at(1) },
    ];
    const { sequential, batched } = await both(writes);
    expect(batched).toEqual(sequential);
    expect(batched).toEqual(['written', 'written', 'written', 'written']);
    const [a, b] = [await mailbox(one.grant_id), await mailbox(many.grant_id)];
    expect(b).toEqual(a);
    expect(b.threads.map((t) => t.message_ids)).toEqual([['m1', 'm2', 'm4'], ['m3']]);
  });

  it('settles newer, older and same-version writes as one-by-one writes do, the same message twice in a batch included', async () => {
    const writes = [
      // newer state of m1, then an older one after it: the older is stale
      { message: msg('m1', 't1', { starred: true, subject: 'newer' }), version: at(5) },
      { message: msg('m1', 't1', { starred: false, subject: 'older' }), version: at(3) },
      // the same version again with other content: a tie
      { message: msg('m3', 't2', { subject: 'same second' }), version: at(1) },
      // an older write first, then a newer one, of the same message in one batch
      { message: msg('m2', 't1', { unread: false }), version: at(2) },
      { message: msg('m2', 't1', { unread: true, body: null }), version: at(4) },
      // a new message in a new thread
      { message: msg('m8', 't3'), version: at(6) },
      // a new message in an existing thread
      { message: msg('m5', 't2', { folders: ['INBOX', 'IMPORTANT'] }), version: at(2) },
    ];
    const { sequential, batched } = await both(writes);
    expect(batched).toEqual(sequential);
    expect(batched).toEqual(['written', 'stale', 'tie', 'written', 'written', 'written', 'written']);
    const [a, b] = [await mailbox(one.grant_id), await mailbox(many.grant_id)];
    expect(b).toEqual(a);
    // a truncated state (no body) keeps the stored body
    expect(b.messages.find((m) => m.nylas_message_id === 'm2')).toMatchObject({ unread: true, body: '<p>m2</p>' });
  });

  it('drops deleted messages from their thread and does not revive them with an older write', async () => {
    for (const grant of [one.grant_id, many.grant_id]) expect(await deleteMessage(db.sql, grant, 'm5', at(7))).toBe(true);
    const writes = [
      { message: msg('m5', 't2', { subject: 'late' }), version: at(6) },
      { message: msg('m6', 't2'), version: at(8) },
    ];
    const { sequential, batched } = await both(writes);
    expect(batched).toEqual(sequential);
    expect(batched).toEqual(['stale', 'written']);
    const [a, b] = [await mailbox(one.grant_id), await mailbox(many.grant_id)];
    expect(b).toEqual(a);
    expect(b.threads.find((t) => t.nylas_thread_id === 't2')!.message_ids).not.toContain('m5');
  });

  it('answers no-inbox for a grant without an inbox and writes nothing for it', async () => {
    const outcomes = await upsertMessages(db.sql, [
      { message: { ...msg('x1', 'tx'), grant_id: 'grant-unknown' }, version: at(1) },
      { message: { ...msg('m7', 't1'), grant_id: many.grant_id }, version: at(9) },
    ]);
    expect(outcomes).toEqual(['no-inbox', 'written']);
    expect(await db.sql.query(`select 1 from flux_email_messages where grant_id = 'grant-unknown'`)).toEqual([]);
    expect(await db.sql.query(`select 1 from flux_email_threads where grant_id = 'grant-unknown'`)).toEqual([]);
  });
});
