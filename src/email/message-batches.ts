import type { Queryable } from '../storage/index.ts';
import type { Message } from './nylas/wire.ts';
import type { UpsertOutcome } from './store.ts';

/**
 * Every write of messages to flux_email_messages, and every refresh of a thread from its
 * messages: many at once (the notifications a `webhooks` process works on together, a backfill's
 * threads), or one (store.ts's upsertMessage and deleteMessage go through here). Writes are
 * versioned and never replace newer state; threads are recomputed from their stored messages.
 */

/**
 * The upsert's CTEs over `param` (a jsonb array of {message, version}): `input`, `target` and `written` (the
 * rows written), for a statement that combines it with its caller's writes (a thread sync stores
 * and completes in one statement).
 */
export const upsertMessagesCtes = (param: string) => `
  input as (
    select x.ord, x.e->'message' as v, (x.e->>'version')::timestamptz as version
    from jsonb_array_elements(${param}::text::jsonb) with ordinality x(e, ord)
  ), target as (
    select input.*, i.id as inbox_id from input join flux_inboxes i on i.grant_id = input.v->>'grant_id'
  ), written as (
    insert into flux_email_messages as t (inbox_id, grant_id, nylas_message_id, nylas_thread_id, subject,
      from_participants, to_participants, cc_participants, bcc_participants, reply_to, date, unread,
      starred, snippet, body, folders, attachments, headers, source_version)
    select inbox_id, v->>'grant_id', v->>'id', v->>'thread_id', v->>'subject',
           coalesce(v->'from', '[]'), coalesce(v->'to', '[]'), coalesce(v->'cc', '[]'),
           coalesce(v->'bcc', '[]'), coalesce(v->'reply_to', '[]'), to_timestamp((v->>'date')::float8),
           coalesce((v->>'unread')::boolean, false), coalesce((v->>'starred')::boolean, false),
           v->>'snippet', v->>'body', coalesce(v->'folders', '[]'), coalesce(v->'attachments', '[]'),
           v->'headers', version
    from target
    -- one lock order for every writer
    order by v->>'grant_id', v->>'id'
    on conflict (grant_id, nylas_message_id) do update set
      nylas_thread_id = excluded.nylas_thread_id, subject = excluded.subject,
      from_participants = excluded.from_participants, to_participants = excluded.to_participants,
      cc_participants = excluded.cc_participants, bcc_participants = excluded.bcc_participants,
      reply_to = excluded.reply_to, date = excluded.date, unread = excluded.unread,
      starred = excluded.starred, snippet = excluded.snippet,
      body = coalesce(excluded.body, t.body), folders = excluded.folders,
      attachments = excluded.attachments, headers = coalesce(excluded.headers, t.headers),
      source_version = excluded.source_version, updated_at = now()
    where t.source_version < excluded.source_version
    returning t.grant_id, t.nylas_message_id
  )`;

/**
 * $1 jsonb array of {message (wire format), version}: the versioned message upsert for many
 * messages, each into the inbox of its grant. One row per element: `known` (its grant has an
 * inbox) and `written`. No two elements may name the same message (a statement cannot update a
 * row twice).
 */
const UPSERT_MESSAGES_BY_GRANT = `
  with ${upsertMessagesCtes('$1')}
  select input.ord,
         exists (select 1 from target where target.ord = input.ord) as known,
         exists (select 1 from written w where w.grant_id = input.v->>'grant_id' and w.nylas_message_id = input.v->>'id') as written
  from input order by input.ord`;

/** $1 grant ids, $2 message ids (pairwise): the stored versions. */
const MESSAGE_VERSIONS = `
  select m.grant_id, m.nylas_message_id, m.source_version
  from unnest($1::text[], $2::text[]) k(grant_id, message_id)
  join flux_email_messages m on m.grant_id = k.grant_id and m.nylas_message_id = k.message_id`;

/**
 * $1 grant ids, $2 thread ids (pairwise): recomputes each thread row from its stored messages,
 * merged with what the row holds (the provider's thread, when it was synced). Message ids keep
 * their order, deleted ones drop out; flags are those of the stored messages.
 */
const REFRESH_THREADS = `
  with keys as (
    select distinct grant_id, thread_id from unnest($1::text[], $2::text[]) k(grant_id, thread_id)
  ), agg as (
    select k.grant_id, k.thread_id, a.* from keys k cross join lateral (
      with live as (
        select * from flux_email_messages
        where grant_id = k.grant_id and nylas_thread_id = k.thread_id and deleted_at is null
      )
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
             (select max(date) from live where folders ? 'SENT') as latest_sent,
             (select coalesce(jsonb_agg(nylas_message_id), '[]') from flux_email_messages
              where grant_id = k.grant_id and nylas_thread_id = k.thread_id and deleted_at is not null) as gone
    ) a
  )
  insert into flux_email_threads as t (inbox_id, grant_id, nylas_thread_id, subject, snippet, participants,
    message_ids, folders, has_attachments, unread, starred, earliest_message_date,
    latest_message_received_date, latest_message_sent_date)
  select inbox_id, grant_id, thread_id, subject, snippet, participants, message_ids, folders, has_attachments,
         unread, starred, earliest, latest_received, latest_sent
  from agg where inbox_id is not null
  order by grant_id, thread_id
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
      ) x where not (select g.gone from agg g where g.grant_id = t.grant_id and g.thread_id = t.nylas_thread_id) @> jsonb_build_array(x.id)),
    folders = (select coalesce(jsonb_agg(distinct f), '[]') from jsonb_array_elements(t.folders || excluded.folders) f),
    has_attachments = t.has_attachments or excluded.has_attachments,
    unread = excluded.unread, starred = excluded.starred,
    earliest_message_date = least(t.earliest_message_date, excluded.earliest_message_date),
    latest_message_received_date = greatest(t.latest_message_received_date, excluded.latest_message_received_date),
    latest_message_sent_date = greatest(t.latest_message_sent_date, excluded.latest_message_sent_date),
    updated_at = now()`;

export interface MessageWrite {
  message: Message;
  /** The provider's time of this state. */
  version: Date;
}

/** upsertMessage's outcome, or `no-inbox` when no inbox is connected for the message's grant. */
export type BatchUpsertOutcome = UpsertOutcome | 'no-inbox';

/**
 * upsertMessage for many messages, each into the inbox of its grant, then one refresh of every
 * thread written to. Outcomes in input order. The same message twice is written in turns, in
 * input order, as one after the other would be.
 */
export async function upsertMessages(db: Queryable, writes: readonly MessageWrite[]): Promise<BatchUpsertOutcome[]> {
  const outcomes: BatchUpsertOutcome[] = new Array(writes.length);
  const threads = new Map<string, [string, string]>();
  for (const round of rounds(writes)) {
    const rows = await db.query<{ ord: number; known: boolean; written: boolean }>(UPSERT_MESSAGES_BY_GRANT, [
      JSON.stringify(round.map((i) => ({ message: writes[i]!.message, version: writes[i]!.version }))),
    ]);
    const unwritten: number[] = [];
    for (const r of rows) {
      const i = round[r.ord - 1]!;
      const { message } = writes[i]!;
      if (!r.known) outcomes[i] = 'no-inbox';
      else if (r.written) {
        outcomes[i] = 'written';
        threads.set(`${message.grant_id}\u0000${message.thread_id}`, [message.grant_id, message.thread_id]);
      } else unwritten.push(i);
    }
    if (unwritten.length) {
      // Rare (redeliveries, out-of-order updates): read what is stored, as upsertMessage does.
      const stored = await db.query<{ grant_id: string; nylas_message_id: string; source_version: Date }>(MESSAGE_VERSIONS, [
        unwritten.map((i) => writes[i]!.message.grant_id),
        unwritten.map((i) => writes[i]!.message.id),
      ]);
      const versions = new Map(stored.map((s) => [`${s.grant_id}\u0000${s.nylas_message_id}`, s.source_version.getTime()]));
      for (const i of unwritten) {
        const { message, version } = writes[i]!;
        outcomes[i] = versions.get(`${message.grant_id}\u0000${message.id}`) === version.getTime() ? 'tie' : 'stale';
      }
    }
  }
  await refreshThreads(db, [...threads.values()]);
  return outcomes;
}

/** Recomputes threads ([grant id, thread id] pairs) from their stored messages, in one statement. */
export async function refreshThreads(db: Queryable, keys: readonly (readonly [string, string])[]): Promise<void> {
  if (keys.length === 0) return;
  // One lock order for every writer.
  const sorted = [...keys].sort(([g1, t1], [g2, t2]) => (g1 + '\u0000' + t1 < g2 + '\u0000' + t2 ? -1 : 1));
  await db.query(REFRESH_THREADS, [sorted.map(([g]) => g), sorted.map(([, t]) => t)]);
}

/** Splits writes into rounds in which no message appears twice, keeping each message's writes in input order. */
function rounds(writes: readonly MessageWrite[]): number[][] {
  const result: number[][] = [];
  const seen = new Map<string, number>();
  writes.forEach((w, i) => {
    const key = `${w.message.grant_id}\u0000${w.message.id}`;
    const round = seen.get(key) ?? 0;
    seen.set(key, round + 1);
    (result[round] ??= []).push(i);
  });
  return result;
}
