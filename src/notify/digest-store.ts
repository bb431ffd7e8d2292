/**
 * Every SQL statement on notify.ent_digest_event and notify.ent_digest. An event joins the open
 * bucket of its (subscriber, workflow, channel); a flush claims the bucket's open events of one
 * window and records the digest in one transaction, so each event lands in exactly one digest,
 * whatever crashes around it.
 *
 * Windows are in event time: an event's `occurred_at` is when its notification became due, and a
 * bucket's window runs from its oldest open event for the workflow's `windowMs`. A window is
 * flushed once it has passed and every notification of the workflow due inside it has been
 * planned (none is still PENDING or PROCESSING), so a backlog or a worker's crash delays a digest
 * but never splits it; after `maxWaitMs` past its end it is flushed regardless (a stuck
 * notification holds no digest for ever). A window that reaches `maxEvents` is flushed at once.
 * An event planned after its window went out (past that limit) makes a digest of its own at the
 * next flush.
 */
import type { Queryable } from '../storage/index.ts';
import type { ChannelType } from './store.ts';

export interface DigestEvent {
  notificationId: number;
  enterpriseId: string | null;
  subscriberId: string;
  workflowId: number;
  channel: ChannelType;
  payload: unknown;
  /** When the notification became due (its creation, or its scheduled_for when later); null: now. */
  occurredAt: Date | null;
}

/** Adds events to their buckets (one statement for many notifications; an event added twice is kept once). */
export async function addDigestEvents(db: Queryable, events: readonly DigestEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db.query(
    `insert into notify.ent_digest_event (notification_id, enterprise_id, subscriber_id, notification_workflow_id, channel_type, payload, occurred_at)
     select e.n, e.ent::uuid, e.s::uuid, e.w, e.c::notify.notification_channel_type, e.p, coalesce(e.t, now())
     from jsonb_to_recordset($1::text::jsonb) as e(n bigint, ent text, s text, w bigint, c text, p jsonb, t timestamptz)
     on conflict (notification_id, subscriber_id, channel_type) do nothing`,
    [JSON.stringify(events.map((e) => ({ n: e.notificationId, ent: e.enterpriseId, s: e.subscriberId, w: e.workflowId, c: e.channel, p: e.payload ?? {}, t: e.occurredAt })))],
  );
}

export interface DigestKey {
  subscriber_id: string;
  notification_workflow_id: number;
  channel_type: ChannelType;
  enterprise_id: string | null;
  max_events: number;
  /** The end of the bucket's window: only events that occurred before it are claimed (absent: all). */
  window_end?: Date | null;
}

/**
 * Buckets due for a flush: their window has passed and nothing due inside it is still to be
 * planned (or it passed `maxWaitMs` ago), or the window holds maxEvents.
 */
export async function dueBuckets(db: Queryable, defaultWindowMs: number, limit: number, maxWaitMs = 300_000): Promise<DigestKey[]> {
  return db.query<DigestKey>(
    `with open as (
       select e.subscriber_id, e.notification_workflow_id, e.channel_type, e.enterprise_id,
              coalesce((w.digest ->> 'maxEvents')::int, 1000) as max_events, count(*) as open_events,
              min(e.occurred_at) + make_interval(secs => coalesce((w.digest ->> 'windowMs')::double precision, $1) / 1000.0) as window_end
       from notify.ent_digest_event e
       join notify.ent_notification_workflow w on w.id = e.notification_workflow_id
       where e.digest_id is null
       group by e.subscriber_id, e.notification_workflow_id, e.channel_type, e.enterprise_id, w.digest
     ), unplanned as (
       -- Per workflow, the earliest due time of its notifications not planned yet (one index probe each).
       select wf.id, (select min(greatest(n.created_at, n.scheduled_for)) from notify.ent_notification n
                      where n.notification_workflow_id = wf.id and n.notification_status in ('PENDING', 'PROCESSING')
                        and n.publish_status = 'PUBLISH' and not n.deactivated) as due
       from (select distinct notification_workflow_id as id from open) wf
     )
     select o.subscriber_id::text as subscriber_id, o.notification_workflow_id, o.channel_type::text as channel_type,
            o.enterprise_id::text as enterprise_id, o.max_events, o.window_end
     from open o join unplanned u on u.id = o.notification_workflow_id
     where (o.window_end <= now()
            and (u.due is null or u.due >= o.window_end or o.window_end + make_interval(secs => $3::double precision / 1000.0) <= now()))
        -- Counted inside the window only when the bucket holds that many at all.
        or case when o.open_events < o.max_events then false
                else (select count(*) from notify.ent_digest_event e
                      where e.digest_id is null and e.subscriber_id = o.subscriber_id and e.notification_workflow_id = o.notification_workflow_id
                        and e.channel_type = o.channel_type and e.enterprise_id is not distinct from o.enterprise_id
                        and e.occurred_at < o.window_end) >= o.max_events end
     limit $2`,
    [defaultWindowMs, limit, maxWaitMs],
  );
}

/**
 * Claims up to `max` open events of a bucket's window (rows another flush holds are skipped) and
 * records their digest, in the caller's transaction. Undefined when nothing was open.
 */
export async function claimDigest(tx: Queryable, key: DigestKey): Promise<{ id: number; count: number } | undefined> {
  const [row] = await tx.query<{ id: number; event_count: number }>(
    `with claimed as (
       select id from notify.ent_digest_event
       where digest_id is null and subscriber_id = $1::uuid and notification_workflow_id = $2
         and channel_type = $3::notify.notification_channel_type and enterprise_id is not distinct from $4::uuid
         and ($6::timestamptz is null or occurred_at < $6::timestamptz)
       order by id limit $5 for update skip locked
     ), digest as (
       insert into notify.ent_digest (enterprise_id, subscriber_id, notification_workflow_id, channel_type, event_count)
       select $4::uuid, $1::uuid, $2, $3::notify.notification_channel_type, count(*) from claimed having count(*) > 0
       returning id, event_count
     ), marked as (
       update notify.ent_digest_event e set digest_id = (select id from digest) from claimed c where e.id = c.id returning e.id
     )
     select id, event_count from digest where (select count(*) from marked) >= 0`,
    [key.subscriber_id, key.notification_workflow_id, key.channel_type, key.enterprise_id, key.max_events, key.window_end ?? null],
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
