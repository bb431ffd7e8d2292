import type { Queryable } from '../storage/index.ts';
import { refreshThreads, upsertMessages, type MessageWrite } from './message-batches.ts';
import type { Message, Thread } from './nylas/wire.ts';

/**
 * The PostgreSQL copy of mailboxes: every statement on flux_inboxes, flux_email_threads and
 * flux_email_messages. Writes carry a `source_version` (the provider time of the state they
 * describe) and never replace newer state with older, so duplicate and out-of-order deliveries
 * converge on the provider's latest state.
 */

export interface InboxRow {
  id: string;
  grant_id: string;
  email: string | null;
  provider: string | null;
  status: 'active' | 'auth_expired' | 'deleted';
}

const FIND_INBOX = `select id, grant_id, email, provider, status from flux_inboxes where grant_id = $1`;

const FIND_INBOX_BY_ID = `select id, grant_id, email, provider, status from flux_inboxes where id = $1`;

/** $1 inbox id, $2 limit, $3 before (latest received date, or null): a page of threads, newest first. */
const LIST_THREADS = `
  select id, nylas_thread_id, subject, snippet, participants, message_ids, unread, starred,
         has_attachments, latest_message_received_date
  from flux_email_threads
  where inbox_id = $1 and ($3::timestamptz is null or latest_message_received_date < $3)
  order by latest_message_received_date desc nulls last, id
  limit $2`;

/** $1 thread row id: its live messages, oldest first. */
const THREAD_MESSAGES = `
  select m.id, m.nylas_message_id, m.subject, m.from_participants, m.to_participants, m.cc_participants,
         m.date, m.snippet, m.body, m.unread, m.starred, m.folders, m.attachments
  from flux_email_threads t
  join flux_email_messages m on m.grant_id = t.grant_id and m.nylas_thread_id = t.nylas_thread_id
  where t.id = $1 and m.deleted_at is null
  order by m.date, m.id`;

/** Every inbox with its configuration's backfill phase, newest first. */
const LIST_INBOXES = `
  select i.id, i.grant_id, i.email, i.provider, i.status, c.id as config_id, c.backfill_status,
         c.backfill_started_at, c.backfill_completed_at, i.created_at
  from flux_inboxes i left join flux_inbox_configurations c on c.inbox_id = i.id
  order by i.created_at desc`;

/** $1 grant id, $2 email, $3 provider: creates the inbox, or returns the existing one (its status unchanged). */
const ENSURE_INBOX = `
  insert into flux_inboxes (grant_id, email, provider) values ($1, $2, $3)
  on conflict (grant_id) do update
    set email = coalesce(excluded.email, flux_inboxes.email),
        provider = coalesce(excluded.provider, flux_inboxes.provider), updated_at = now()
  returning id, grant_id, email, provider, status`;

/** $1 grant id, $2 status, $3 reason. */
const SET_INBOX_STATUS = `
  update flux_inboxes set status = $2, status_reason = $3, updated_at = now() where grant_id = $1
  returning id`;

/** $1 grant id, $2 message id, $3 version: tombstones a message unless newer state is stored. */
const DELETE_MESSAGE = `
  update flux_email_messages set deleted_at = $3, source_version = $3, updated_at = now()
  where grant_id = $1 and nylas_message_id = $2 and source_version <= $3
  returning nylas_thread_id`;

/**
 * The thread upsert's CTEs over `param`, a jsonb array of {inbox, version, v: thread (wire
 * format)}, at most one per thread: `thread_input`, and `threads_written` (the provider's
 * threads, each unless newer state is stored; their ids).
 */
export const upsertThreadsCtes = (param: string) => `
  thread_input as (
    select (x->>'inbox')::uuid as inbox_id, (x->>'version')::timestamptz as version, x->'v' as v
    from jsonb_array_elements(${param}::text::jsonb) x
  ), threads_written as (
  insert into flux_email_threads as t (inbox_id, grant_id, nylas_thread_id, subject, snippet, participants,
    message_ids, folders, has_attachments, has_drafts, unread, starred, earliest_message_date,
    latest_message_received_date, latest_message_sent_date, source_version)
  select inbox_id, v->>'grant_id', v->>'id', v->>'subject', v->>'snippet', coalesce(v->'participants', '[]'),
         coalesce(v->'message_ids', '[]'), coalesce(v->'folders', '[]'),
         coalesce((v->>'has_attachments')::boolean, false), coalesce((v->>'has_drafts')::boolean, false),
         coalesce((v->>'unread')::boolean, false), coalesce((v->>'starred')::boolean, false),
         to_timestamp((v->>'earliest_message_date')::float8),
         to_timestamp((v->>'latest_message_received_date')::float8),
         to_timestamp((v->>'latest_message_sent_date')::float8), version
  from thread_input
  on conflict (grant_id, nylas_thread_id) do update set
    subject = excluded.subject, snippet = excluded.snippet, participants = excluded.participants,
    message_ids = excluded.message_ids, folders = excluded.folders,
    has_attachments = excluded.has_attachments, has_drafts = excluded.has_drafts,
    unread = excluded.unread, starred = excluded.starred,
    earliest_message_date = excluded.earliest_message_date,
    latest_message_received_date = excluded.latest_message_received_date,
    latest_message_sent_date = excluded.latest_message_sent_date,
    source_version = excluded.source_version, updated_at = now()
  where t.source_version <= excluded.source_version
  returning id
  )`;

/** $1 as upsertThreadsCtes's param: returns the ids written. */
const UPSERT_THREADS = `with ${upsertThreadsCtes('$1')} select id from threads_written`;

export async function findInbox(db: Queryable, grantId: string): Promise<InboxRow | undefined> {
  const [row] = await db.query<InboxRow>(FIND_INBOX, [grantId]);
  return row;
}

export async function findInboxById(db: Queryable, id: string): Promise<InboxRow | undefined> {
  const [row] = await db.query<InboxRow>(FIND_INBOX_BY_ID, [id]);
  return row;
}

export interface InboxListing extends InboxRow {
  config_id: string | null;
  backfill_status: string | null;
  backfill_started_at: Date | null;
  backfill_completed_at: Date | null;
  created_at: Date;
}

export async function listInboxes(db: Queryable): Promise<InboxListing[]> {
  return db.query<InboxListing>(LIST_INBOXES);
}

export async function ensureInbox(db: Queryable, grantId: string, email?: string | null, provider?: string | null): Promise<InboxRow> {
  const [row] = await db.query<InboxRow>(ENSURE_INBOX, [grantId, email ?? null, provider ?? null]);
  return row!;
}

export async function setInboxStatus(db: Queryable, grantId: string, status: InboxRow['status'], reason: string): Promise<boolean> {
  return (await db.query(SET_INBOX_STATUS, [grantId, status, reason])).length > 0;
}

export type UpsertOutcome = 'written' | 'stale' | 'tie';

/**
 * Stores a message at `version` and refreshes its thread (message-batches.ts's batched write, for
 * one). `tie` means the stored state carries the same version, so which one is newer cannot be
 * told from the delivery alone.
 */
export async function upsertMessage(db: Queryable, message: Message, version: Date): Promise<UpsertOutcome> {
  const [outcome] = await upsertMessages(db, [{ message, version }]);
  if (outcome === 'no-inbox') throw new Error(`no inbox is connected for grant ${message.grant_id}`);
  return outcome!;
}

export interface SyncedThread {
  inboxId: string;
  thread: Thread;
  messages: readonly Message[];
  /** When the messages were fetched: the version they are stored at. */
  version: Date;
  /** When the thread was fetched, if not with the messages. */
  threadVersion?: Date;
}

/**
 * What storing synced threads as the provider has them writes, with all their messages, each at
 * its version (the time it was fetched): the parameters of upsertMessagesCtes and
 * upsertThreadsCtes, which threads.ts writes in one statement with the threads' completion. One
 * row per message and per thread (a statement may not upsert the same row twice), the newest
 * version kept; messages or threads stored with a newer version are kept by the statements.
 */
export function threadWrites(synced: readonly SyncedThread[]): { messages: MessageWrite[]; threads: { inbox: string; version: Date; v: Thread }[] } {
  const messages = new Map<string, MessageWrite>();
  const threads = new Map<string, { inbox: string; version: Date; v: Thread }>();
  for (const s of synced) {
    for (const m of s.messages) keepNewest(messages, `${m.grant_id}/${m.id}`, { message: m, version: s.version });
    keepNewest(threads, `${s.thread.grant_id}/${s.thread.id}`, { inbox: s.inboxId, version: s.threadVersion ?? s.version, v: s.thread });
  }
  return { messages: [...messages.values()], threads: [...threads.values()] };
}

function keepNewest<T extends { version: Date }>(map: Map<string, T>, key: string, value: T): void {
  const held = map.get(key);
  if (!held || held.version < value.version) map.set(key, value);
}

export async function deleteMessage(db: Queryable, grantId: string, messageId: string, version: Date): Promise<boolean> {
  const [row] = await db.query<{ nylas_thread_id: string }>(DELETE_MESSAGE, [grantId, messageId, version]);
  if (row) await refreshThreads(db, [[grantId, row.nylas_thread_id]]);
  return row !== undefined;
}

export async function upsertThread(db: Queryable, inboxId: string, thread: Thread, version: Date): Promise<boolean> {
  return (await db.query(UPSERT_THREADS, [JSON.stringify([{ inbox: inboxId, version, v: thread }])])).length > 0;
}

/** A row of LIST_THREADS. Participants and message ids are the provider's, as stored (jsonb). */
export interface ThreadListing {
  id: string;
  nylas_thread_id: string;
  subject: string | null;
  snippet: string | null;
  participants: unknown[];
  message_ids: string[];
  unread: boolean;
  starred: boolean;
  has_attachments: boolean;
  latest_message_received_date: Date | null;
}

export async function listThreads(db: Queryable, inboxId: string, limit: number, before?: Date): Promise<ThreadListing[]> {
  return db.query<ThreadListing>(LIST_THREADS, [inboxId, limit, before ?? null]);
}

/** A row of THREAD_MESSAGES. Participants, folders and attachments are the provider's, as stored. */
export interface StoredMessage {
  id: string;
  nylas_message_id: string;
  subject: string | null;
  from_participants: unknown[];
  to_participants: unknown[];
  cc_participants: unknown[];
  date: Date | null;
  snippet: string | null;
  body: string | null;
  unread: boolean;
  starred: boolean;
  folders: string[];
  attachments: unknown[];
}

export async function threadMessages(db: Queryable, threadRowId: string): Promise<StoredMessage[]> {
  return db.query<StoredMessage>(THREAD_MESSAGES, [threadRowId]);
}
