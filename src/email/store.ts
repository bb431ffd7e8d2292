import type { Queryable } from '../storage/index.ts';
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

/**
 * $1 jsonb array of {inbox, version, v: message (wire format)}, at most one per message. Inserts
 * or replaces each message whose stored version is older; returns the ids of messages written
 * (none for those whose stored state is as new or newer).
 */
const UPSERT_MESSAGES = `
  with m as (
    select (x->>'inbox')::uuid as inbox_id, (x->>'version')::timestamptz as version, x->'v' as v
    from jsonb_array_elements($1::text::jsonb) x
  )
  insert into flux_email_messages as t (inbox_id, grant_id, nylas_message_id, nylas_thread_id, subject,
    from_participants, to_participants, cc_participants, bcc_participants, reply_to, date, unread,
    starred, snippet, body, folders, attachments, headers, source_version)
  select inbox_id, v->>'grant_id', v->>'id', v->>'thread_id', v->>'subject',
         coalesce(v->'from', '[]'), coalesce(v->'to', '[]'), coalesce(v->'cc', '[]'),
         coalesce(v->'bcc', '[]'), coalesce(v->'reply_to', '[]'), to_timestamp((v->>'date')::float8),
         coalesce((v->>'unread')::boolean, false), coalesce((v->>'starred')::boolean, false),
         v->>'snippet', v->>'body', coalesce(v->'folders', '[]'), coalesce(v->'attachments', '[]'),
         v->'headers', version
  from m
  on conflict (grant_id, nylas_message_id) do update set
    nylas_thread_id = excluded.nylas_thread_id, subject = excluded.subject,
    from_participants = excluded.from_participants, to_participants = excluded.to_participants,
    cc_participants = excluded.cc_participants, bcc_participants = excluded.bcc_participants,
    reply_to = excluded.reply_to, date = excluded.date, unread = excluded.unread,
    starred = excluded.starred, snippet = excluded.snippet,
    -- a truncated notification has no body: keep the one we have
    body = coalesce(excluded.body, t.body), folders = excluded.folders,
    attachments = excluded.attachments, headers = coalesce(excluded.headers, t.headers),
    source_version = excluded.source_version, updated_at = now()
  where t.source_version < excluded.source_version
  returning nylas_message_id`;

/** $1 grant id, $2 message id: the stored version, to tell a tie from a stale delivery. */
const MESSAGE_VERSION = `select source_version from flux_email_messages where grant_id = $1 and nylas_message_id = $2`;

/** $1 grant id, $2 message id, $3 version: tombstones a message unless newer state is stored. */
const DELETE_MESSAGE = `
  update flux_email_messages set deleted_at = $3, source_version = $3, updated_at = now()
  where grant_id = $1 and nylas_message_id = $2 and source_version <= $3
  returning nylas_thread_id`;

/**
 * $1 grant id, $2 thread id: recomputes the thread row from its stored messages, merged with what
 * the row already holds (the provider's thread, when it was synced). Message ids keep their
 * order, deleted ones drop out; flags are those of the stored messages.
 */
const REFRESH_THREAD = `
  with live as (
    select * from flux_email_messages where grant_id = $1 and nylas_thread_id = $2 and deleted_at is null
  ), gone as (
    select coalesce(jsonb_agg(nylas_message_id), '[]') as ids from flux_email_messages
    where grant_id = $1 and nylas_thread_id = $2 and deleted_at is not null
  ), agg as (
    select (select inbox_id from live limit 1) as inbox_id,
           (select subject from live order by date limit 1) as subject,
           (select snippet from live order by date desc limit 1) as snippet,
           coalesce((select jsonb_agg(distinct p) from live,
             jsonb_array_elements(from_participants || to_participants || cc_participants) p), '[]') as participants,
           coalesce((select jsonb_agg(nylas_message_id order by date) from live), '[]') as message_ids,
           coalesce((select jsonb_agg(distinct f) from live, jsonb_array_elements(folders) f), '[]') as folders,
           coalesce((select bool_or(jsonb_array_length(attachments) > 0) from live), false) as has_attachments,
           coalesce((select bool_or(unread) from live), false) as unread,
           coalesce((select bool_or(starred) from live), false) as starred,
           (select min(date) from live) as earliest,
           (select max(date) from live where not folders ? 'SENT') as latest_received,
           (select max(date) from live where folders ? 'SENT') as latest_sent
  )
  insert into flux_email_threads as t (inbox_id, grant_id, nylas_thread_id, subject, snippet, participants,
    message_ids, folders, has_attachments, unread, starred, earliest_message_date,
    latest_message_received_date, latest_message_sent_date)
  select inbox_id, $1, $2, subject, snippet, participants, message_ids, folders, has_attachments,
         unread, starred, earliest, latest_received, latest_sent
  from agg where inbox_id is not null
  on conflict (grant_id, nylas_thread_id) do update set
    subject = coalesce(t.subject, excluded.subject),
    snippet = coalesce(excluded.snippet, t.snippet),
    participants = (select coalesce(jsonb_agg(distinct p), '[]') from jsonb_array_elements(t.participants || excluded.participants) p),
    message_ids = (
      select coalesce(jsonb_agg(x.id order by x.ord), '[]') from (
        select e.id, e.ord from jsonb_array_elements(t.message_ids) with ordinality e(id, ord)
        union all
        select n.id, 1000000 + n.ord from jsonb_array_elements(excluded.message_ids) with ordinality n(id, ord)
        where not t.message_ids @> jsonb_build_array(n.id)
      ) x where not (select ids from gone) @> jsonb_build_array(x.id)),
    folders = (select coalesce(jsonb_agg(distinct f), '[]') from jsonb_array_elements(t.folders || excluded.folders) f),
    has_attachments = t.has_attachments or excluded.has_attachments,
    unread = excluded.unread, starred = excluded.starred,
    earliest_message_date = least(t.earliest_message_date, excluded.earliest_message_date),
    latest_message_received_date = greatest(t.latest_message_received_date, excluded.latest_message_received_date),
    latest_message_sent_date = greatest(t.latest_message_sent_date, excluded.latest_message_sent_date),
    updated_at = now()`;

/**
 * $1 jsonb array of {inbox, version, v: thread (wire format)}, at most one per thread: the
 * provider's threads, each unless newer state is stored.
 */
const UPSERT_THREADS = `
  with t as (
    select (x->>'inbox')::uuid as inbox_id, (x->>'version')::timestamptz as version, x->'v' as v
    from jsonb_array_elements($1::text::jsonb) x
  )
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
  from t
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
  returning id`;

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
 * Stores a message at `version` and refreshes its thread. `tie` means the stored state carries
 * the same version, so which one is newer cannot be told from the delivery alone.
 */
export async function upsertMessage(db: Queryable, inboxId: string, message: Message, version: Date): Promise<UpsertOutcome> {
  const rows = await db.query(UPSERT_MESSAGES, [JSON.stringify([{ inbox: inboxId, version, v: message }])]);
  if (rows.length) {
    await db.query(REFRESH_THREAD, [message.grant_id, message.thread_id]);
    return 'written';
  }
  const [stored] = await db.query<{ source_version: Date }>(MESSAGE_VERSION, [message.grant_id, message.id]);
  return stored && stored.source_version.getTime() === version.getTime() ? 'tie' : 'stale';
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
 * Stores threads as the provider has them with all their messages, each at its version (the
 * time it was fetched): one statement for all messages and one for all threads, pipelined.
 * Messages or threads stored with a newer version are kept. Returns how many messages were written.
 */
export async function storeThreads(db: Queryable, synced: readonly SyncedThread[]): Promise<number> {
  // One row per message and per thread: a statement may not upsert the same row twice.
  const messages = new Map<string, { inbox: string; version: Date; v: Message }>();
  const threads = new Map<string, { inbox: string; version: Date; v: Thread }>();
  for (const s of synced) {
    for (const m of s.messages) keepNewest(messages, `${m.grant_id}/${m.id}`, { inbox: s.inboxId, version: s.version, v: m });
    keepNewest(threads, `${s.thread.grant_id}/${s.thread.id}`, { inbox: s.inboxId, version: s.threadVersion ?? s.version, v: s.thread });
  }
  const [written] = await Promise.all([
    messages.size ? db.query(UPSERT_MESSAGES, [JSON.stringify([...messages.values()])]) : [],
    threads.size ? db.query(UPSERT_THREADS, [JSON.stringify([...threads.values()])]) : [],
  ]);
  return written.length;
}

function keepNewest<T extends { version: Date }>(map: Map<string, T>, key: string, value: T): void {
  const held = map.get(key);
  if (!held || held.version < value.version) map.set(key, value);
}

export async function deleteMessage(db: Queryable, grantId: string, messageId: string, version: Date): Promise<boolean> {
  const [row] = await db.query<{ nylas_thread_id: string }>(DELETE_MESSAGE, [grantId, messageId, version]);
  if (row) await db.query(REFRESH_THREAD, [grantId, row.nylas_thread_id]);
  return row !== undefined;
}

export async function upsertThread(db: Queryable, inboxId: string, thread: Thread, version: Date): Promise<boolean> {
  return (await db.query(UPSERT_THREADS, [JSON.stringify([{ inbox: inboxId, version, v: thread }])])).length > 0;
}

export async function listThreads(db: Queryable, inboxId: string, limit: number, before?: Date): Promise<Record<string, unknown>[]> {
  return db.query(LIST_THREADS, [inboxId, limit, before ?? null]);
}

export async function threadMessages(db: Queryable, threadRowId: string): Promise<Record<string, unknown>[]> {
  return db.query(THREAD_MESSAGES, [threadRowId]);
}
