/**
 * Every SQL statement on notify.ent_digest_event and notify.ent_digest. An event joins the open
 * bucket of its (subscriber, workflow, channel); a flush claims the bucket's open events and
 * records the digest in one transaction, so each event lands in exactly one digest, whatever
 * crashes around it.
 */
import type { Queryable } from '../storage/index.ts';
import type { ChannelType } from './store.ts';

export async function addDigestEvents(
  db: Queryable,
  events: { notificationId: number; enterpriseId: string | null; subscriberId: string; workflowId: number; channel: ChannelType; payload: unknown }[],
): Promise<void> {
  if (events.length === 0) return;
  await db.query(
    `insert into notify.ent_digest_event (notification_id, enterprise_id, subscriber_id, notification_workflow_id, channel_type, payload)
     select e.n, e.ent::uuid, e.s::uuid, e.w, e.c::notify.notification_channel_type, e.p
     from jsonb_to_recordset($1::text::jsonb) as e(n bigint, ent text, s text, w bigint, c text, p jsonb)
     on conflict (notification_id, subscriber_id, channel_type) do nothing`,
    [JSON.stringify(events.map((e) => ({ n: e.notificationId, ent: e.enterpriseId, s: e.subscriberId, w: e.workflowId, c: e.channel, p: e.payload ?? {} })))],
  );
}

export interface DigestKey {
  subscriber_id: string;
  notification_workflow_id: number;
  channel_type: ChannelType;
  enterprise_id: string | null;
  max_events: number;
}

/** Buckets due for a flush: the oldest open event is a window old, or the bucket holds maxEvents. */
export async function dueBuckets(db: Queryable, defaultWindowMs: number, limit: number): Promise<DigestKey[]> {
  return db.query<DigestKey>(
    `select e.subscriber_id::text as subscriber_id, e.notification_workflow_id, e.channel_type::text as channel_type,
            e.enterprise_id::text as enterprise_id, coalesce((w.digest ->> 'maxEvents')::int, 1000) as max_events
     from notify.ent_digest_event e
     join notify.ent_notification_workflow w on w.id = e.notification_workflow_id
     where e.digest_id is null
     group by e.subscriber_id, e.notification_workflow_id, e.channel_type, e.enterprise_id, w.digest
     having min(e.created_at) <= now() - make_interval(secs => coalesce((w.digest ->> 'windowMs')::double precision, $1) / 1000.0)
        or count(*) >= coalesce((w.digest ->> 'maxEvents')::int, 1000)
     limit $2`,
    [defaultWindowMs, limit],
  );
}

/**
 * Claims up to `max` open events of a bucket (rows another flush holds are skipped) and records
 * their digest, in the caller's transaction. Undefined when nothing was open.
 */
export async function claimDigest(tx: Queryable, key: DigestKey): Promise<{ id: number; count: number } | undefined> {
  const [row] = await tx.query<{ id: number; event_count: number }>(
    `with claimed as (
       select id from notify.ent_digest_event
       where digest_id is null and subscriber_id = $1::uuid and notification_workflow_id = $2
         and channel_type = $3::notify.notification_channel_type and enterprise_id is not distinct from $4::uuid
       order by id limit $5 for update skip locked
     ), digest as (
       insert into notify.ent_digest (enterprise_id, subscriber_id, notification_workflow_id, channel_type, event_count)
       select $4::uuid, $1::uuid, $2, $3::notify.notification_channel_type, count(*) from claimed having count(*) > 0
       returning id, event_count
     ), marked as (
       update notify.ent_digest_event e set digest_id = (select id from digest) from claimed c where e.id = c.id returning e.id
     )
     select id, event_count from digest where (select count(*) from marked) >= 0`,
    [key.subscriber_id, key.notification_workflow_id, key.channel_type, key.enterprise_id, key.max_events],
  );
  return row ? { id: row.id, count: row.event_count } : undefined;
}

export interface DigestRow {
  id: number;
  enterprise_id: string | null;
  subscriber_id: string;
  notification_workflow_id: number;
  channel_type: ChannelType;
  event_count: number;
  status: 'PENDING' | 'SENT' | 'FAILED';
  content: unknown;
  error: string | null;
  created_at: Date;
  sent_at: Date | null;
}

export async function getDigest(db: Queryable, id: number): Promise<{ digest: DigestRow; events: { notification_id: number; payload: Record<string, unknown> }[] } | undefined> {
  const [digest] = await db.query<DigestRow>(
    `select id, enterprise_id::text as enterprise_id, subscriber_id::text as subscriber_id, notification_workflow_id,
            channel_type::text as channel_type, event_count, status, content, error, created_at, sent_at
     from notify.ent_digest where id = $1`,
    [id],
  );
  if (!digest) return undefined;
  const events = await db.query<{ notification_id: number; payload: Record<string, unknown> }>(
    `select notification_id, payload from notify.ent_digest_event where digest_id = $1 order by id`,
    [id],
  );
  return { digest, events };
}

export async function finishDigest(db: Queryable, id: number, status: 'SENT' | 'FAILED', content: unknown, error: string | null): Promise<void> {
  await db.query(
    `update notify.ent_digest set status = $2, content = $3::text::jsonb, error = $4, sent_at = case when $2 = 'SENT' then now() end
     where id = $1 and status = 'PENDING'`,
    [id, status, content === null ? null : JSON.stringify(content), error],
  );
}

export async function digestCounts(db: Queryable): Promise<{ digests: number; events: number; open: number }> {
  const [row] = await db.query<{ digests: number; events: number; open: number }>(
    `select (select count(*)::int from notify.ent_digest) as digests,
            (select coalesce(sum(event_count), 0)::int from notify.ent_digest) as events,
            (select count(*)::int from notify.ent_digest_event where digest_id is null) as open`,
  );
  return row!;
}
