/** Every SQL statement on notify.ent_inbox_message: the in-app inbox of each subscriber. */
import type { Queryable } from '../storage/index.ts';

export interface InboxRow {
  id: number;
  subscriber_id: string;
  notification_id: number | null;
  title: string | null;
  body: string;
  action_url: string | null;
  seen_at: Date | null;
  read_at: Date | null;
  archived_at: Date | null;
  created_at: Date;
}

const I = `id, subscriber_id::text as subscriber_id, notification_id, title, body, action_url, seen_at, read_at, archived_at, created_at`;

/** One message per notification and subscriber (a replayed delivery finds the first one). */
export async function insertMessage(
  db: Queryable,
  m: { enterpriseId: string | null; subscriberId: string; notificationId: number | null; title: string | null; body: string; actionUrl: string | null },
): Promise<InboxRow> {
  const [row] = await db.query<InboxRow>(
    `insert into notify.ent_inbox_message (enterprise_id, subscriber_id, notification_id, title, body, action_url)
     values ($1::uuid, $2::uuid, $3, $4, $5, $6)
     on conflict (notification_id, subscriber_id) do nothing returning ${I}`,
    [m.enterpriseId, m.subscriberId, m.notificationId, m.title, m.body, m.actionUrl],
  );
  if (row) return row;
  const [existing] = await db.query<InboxRow>(`select ${I} from notify.ent_inbox_message where notification_id = $1 and subscriber_id = $2::uuid`, [m.notificationId, m.subscriberId]);
  return existing!;
}

export type NewInboxMessage = Parameters<typeof insertMessage>[1];

/**
 * insertMessage for many messages (of different notification × subscriber pairs) in one
 * statement, plus one to read the pairs that existed already; rows in the order given.
 */
export async function insertMessages(db: Queryable, list: NewInboxMessage[]): Promise<InboxRow[]> {
  const inserted = await db.query<InboxRow>(
    `insert into notify.ent_inbox_message (enterprise_id, subscriber_id, notification_id, title, body, action_url)
     select m.enterprise_id::uuid, m.subscriber_id::uuid, m.notification_id, m.title, m.body, m.action_url
     from jsonb_to_recordset($1::text::jsonb) as m(enterprise_id text, subscriber_id text, notification_id bigint, title text, body text, action_url text)
     on conflict (notification_id, subscriber_id) do nothing returning ${I}`,
    [JSON.stringify(list.map((m) => ({
      enterprise_id: m.enterpriseId, subscriber_id: m.subscriberId, notification_id: m.notificationId, title: m.title, body: m.body, action_url: m.actionUrl,
    })))],
  );
  const pair = (notificationId: number | null, subscriberId: string) => `${notificationId}:${subscriberId}`;
  const rows = new Map(inserted.map((r) => [pair(r.notification_id === null ? null : Number(r.notification_id), r.subscriber_id), r]));
  const missing = list.filter((m) => !rows.has(pair(m.notificationId, m.subscriberId)));
  if (missing.length) {
    const existing = await db.query<InboxRow>(
      `select ${I} from notify.ent_inbox_message i
       join jsonb_to_recordset($1::text::jsonb) as m(n bigint, s text) on i.notification_id = m.n and i.subscriber_id = m.s::uuid`,
      [JSON.stringify(missing.map((m) => ({ n: m.notificationId, s: m.subscriberId })))],
    );
    for (const r of existing) rows.set(pair(r.notification_id === null ? null : Number(r.notification_id), r.subscriber_id), r);
  }
  return list.map((m) => rows.get(pair(m.notificationId, m.subscriberId))!);
}

export async function listInbox(db: Queryable, subscriberId: string, f: { archived: boolean; limit: number; beforeId?: number }): Promise<InboxRow[]> {
  return db.query<InboxRow>(
    `select ${I} from notify.ent_inbox_message
     where subscriber_id = $1::uuid and retracted_at is null and (archived_at is not null) = $2 and ($3::bigint is null or id < $3)
     order by id desc limit $4`,
    [subscriberId, f.archived, f.beforeId ?? null, f.limit],
  );
}

export async function inboxCounts(db: Queryable, subscriberId: string): Promise<{ unread: number; unseen: number; total: number }> {
  const [row] = await db.query<{ unread: number; unseen: number; total: number }>(
    `select count(*) filter (where read_at is null)::int as unread, count(*) filter (where seen_at is null)::int as unseen, count(*)::int as total
     from notify.ent_inbox_message where subscriber_id = $1::uuid and retracted_at is null and archived_at is null`,
    [subscriberId],
  );
  return row!;
}

export type InboxAction = 'read' | 'unread' | 'seen' | 'archive' | 'unarchive';

/** Applies an action to messages of a subscriber (all of them when `ids` is null); returns the ids changed. */
export async function markMessages(db: Queryable, subscriberId: string, ids: number[] | null, action: InboxAction): Promise<number[]> {
  const set = {
    read: 'read_at = coalesce(read_at, now()), seen_at = coalesce(seen_at, now())',
    unread: 'read_at = null',
    seen: 'seen_at = coalesce(seen_at, now())',
    archive: 'archived_at = coalesce(archived_at, now()), read_at = coalesce(read_at, now()), seen_at = coalesce(seen_at, now())',
    unarchive: 'archived_at = null',
  }[action];
  const rows = await db.query<{ id: number }>(
    `update notify.ent_inbox_message set ${set}
     where subscriber_id = $1::uuid and retracted_at is null and ($2::bigint[] is null or id = any($2::bigint[])) returning id`,
    [subscriberId, ids],
  );
  return rows.map((r) => r.id);
}

/** Retracts the in-app messages of a notification; returns their subscribers. */
export async function retractMessages(db: Queryable, notificationId: number): Promise<{ id: number; subscriber_id: string }[]> {
  return db.query(
    `update notify.ent_inbox_message set retracted_at = now() where notification_id = $1 and retracted_at is null
     returning id, subscriber_id::text as subscriber_id`,
    [notificationId],
  );
}
