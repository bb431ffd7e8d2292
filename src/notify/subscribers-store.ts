/** Every SQL statement on notify.ent_subscriber and notify.ent_subscriber_preference. */
import type { Queryable } from '../storage/index.ts';
import type { ChannelType } from './store.ts';

export interface SubscriberRow {
  id: number;
  enterprise_id: string | null;
  subscriber_id: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  chat_webhook_url: string | null;
  push_subscriptions: { endpoint: string; keys: { p256dh: string; auth: string } }[];
  locale: string | null;
  timezone: string;
  quiet_hours_start: string | null;
  quiet_hours_end: string | null;
  data: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

const S = `id, enterprise_id::text as enterprise_id, subscriber_id::text as subscriber_id, name, email, phone, chat_webhook_url,
  push_subscriptions, locale, timezone, quiet_hours_start, quiet_hours_end, data, created_at, updated_at`;

export interface SubscriberInput {
  subscriberId: string;
  enterpriseId?: string | null;
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  chatWebhookUrl?: string | null;
  pushSubscriptions?: SubscriberRow['push_subscriptions'];
  locale?: string | null;
  timezone?: string;
  quietHoursStart?: string | null;
  quietHoursEnd?: string | null;
  data?: Record<string, unknown> | null;
}

/** A recipient with no subscriber row: reachable in-app only. */
export function bareSubscriber(id: string, enterpriseId: string | null): SubscriberRow {
  return {
    id: 0, enterprise_id: enterpriseId, subscriber_id: id, name: null, email: null, phone: null, chat_webhook_url: null, push_subscriptions: [],
    locale: null, timezone: 'UTC', quiet_hours_start: null, quiet_hours_end: null, data: null, created_at: new Date(0), updated_at: new Date(0),
  };
}

export async function upsertSubscriber(db: Queryable, s: SubscriberInput): Promise<SubscriberRow> {
  const [row] = await db.query<SubscriberRow>(
    `insert into notify.ent_subscriber (subscriber_id, enterprise_id, name, email, phone, chat_webhook_url, push_subscriptions, locale,
       timezone, quiet_hours_start, quiet_hours_end, data)
     values ($1::uuid, $2::uuid, $3, $4, $5, $6, $7::text::jsonb, $8, $9, $10, $11, $12::text::jsonb)
     on conflict (enterprise_id, subscriber_id) do update set name = excluded.name, email = excluded.email, phone = excluded.phone,
       chat_webhook_url = excluded.chat_webhook_url, push_subscriptions = excluded.push_subscriptions, locale = excluded.locale,
       timezone = excluded.timezone, quiet_hours_start = excluded.quiet_hours_start, quiet_hours_end = excluded.quiet_hours_end,
       data = excluded.data, updated_at = now()
     returning ${S}`,
    [
      s.subscriberId, s.enterpriseId ?? null, s.name ?? null, s.email ?? null, s.phone ?? null, s.chatWebhookUrl ?? null,
      JSON.stringify(s.pushSubscriptions ?? []), s.locale ?? null, s.timezone ?? 'UTC', s.quietHoursStart ?? null, s.quietHoursEnd ?? null,
      s.data ? JSON.stringify(s.data) : null,
    ],
  );
  return row!;
}

export async function getSubscriber(db: Queryable, subscriberId: string, enterpriseId: string | null): Promise<SubscriberRow | undefined> {
  const [row] = await db.query<SubscriberRow>(
    `select ${S} from notify.ent_subscriber where subscriber_id = $1::uuid and enterprise_id is not distinct from $2::uuid`,
    [subscriberId, enterpriseId],
  );
  return row;
}

/** The subscribers of a notification's recipients in its tenant. */
export async function subscribersOf(db: Queryable, ids: string[], enterpriseId: string | null): Promise<SubscriberRow[]> {
  return db.query<SubscriberRow>(
    `select ${S} from notify.ent_subscriber where subscriber_id = any($1::uuid[]) and enterprise_id is not distinct from $2::uuid`,
    [ids, enterpriseId],
  );
}

export async function listSubscribers(db: Queryable, enterpriseId: string | null, limit: number): Promise<SubscriberRow[]> {
  return db.query<SubscriberRow>(
    `select ${S} from notify.ent_subscriber where ($1::uuid is null or enterprise_id = $1::uuid) order by id desc limit $2`,
    [enterpriseId, limit],
  );
}

export async function deleteSubscriber(db: Queryable, subscriberId: string, enterpriseId: string | null): Promise<boolean> {
  const rows = await db.query(
    `delete from notify.ent_subscriber where subscriber_id = $1::uuid and enterprise_id is not distinct from $2::uuid returning id`,
    [subscriberId, enterpriseId],
  );
  await db.query(
    `delete from notify.ent_subscriber_preference where subscriber_id = $1::uuid and enterprise_id is not distinct from $2::uuid`,
    [subscriberId, enterpriseId],
  );
  return rows.length > 0;
}

export interface PreferenceRow {
  subscriber_id: string;
  notification_workflow_id: number | null;
  channel_type: ChannelType;
  enabled: boolean;
}

const P = `subscriber_id::text as subscriber_id, notification_workflow_id, channel_type::text as channel_type, enabled`;

/** Sets one opt-in/out: a workflow id of null applies to every workflow. */
export async function setPreference(db: Queryable, p: { subscriberId: string; enterpriseId: string | null; workflowId: number | null; channel: ChannelType; enabled: boolean }): Promise<PreferenceRow> {
  const [row] = await db.query<PreferenceRow>(
    `insert into notify.ent_subscriber_preference (subscriber_id, enterprise_id, notification_workflow_id, channel_type, enabled)
     values ($1::uuid, $2::uuid, $3, $4::notify.notification_channel_type, $5)
     on conflict (enterprise_id, subscriber_id, notification_workflow_id, channel_type) do update set enabled = excluded.enabled, updated_at = now()
     returning ${P}`,
    [p.subscriberId, p.enterpriseId, p.workflowId, p.channel, p.enabled],
  );
  return row!;
}

export async function preferencesOf(db: Queryable, ids: string[], enterpriseId: string | null): Promise<PreferenceRow[]> {
  return db.query<PreferenceRow>(
    `select ${P} from notify.ent_subscriber_preference where subscriber_id = any($1::uuid[]) and enterprise_id is not distinct from $2::uuid`,
    [ids, enterpriseId],
  );
}

/**
 * Drops push subscriptions the push service said are gone (404/410), by endpoint; the others
 * stay, including any added meanwhile.
 */
export async function removePushSubscriptions(db: Queryable, subscriberId: string, enterpriseId: string | null, endpoints: string[]): Promise<number> {
  const rows = await db.query<{ id: number }>(
    `update notify.ent_subscriber set updated_at = now(), push_subscriptions = (
       select coalesce(jsonb_agg(e order by n), '[]'::jsonb) from jsonb_array_elements(push_subscriptions) with ordinality as s(e, n)
       where not (e->>'endpoint' = any($3::text[])))
     where subscriber_id = $1::uuid and enterprise_id is not distinct from $2::uuid
       and exists (select 1 from jsonb_array_elements(push_subscriptions) e where e->>'endpoint' = any($3::text[]))
     returning id`,
    [subscriberId, enterpriseId, endpoints],
  );
  return rows.length;
}

/** Most push subscriptions kept per subscriber (browsers and devices); the oldest go first. */
export const MAX_PUSH_SUBSCRIPTIONS = 20;

/**
 * Adds a browser's push subscription to a subscriber (replacing one with the same endpoint, as a
 * browser re-subscribing gets new keys), keeping the newest MAX_PUSH_SUBSCRIPTIONS. Undefined
 * when there is no such subscriber.
 */
export async function addPushSubscription(
  db: Queryable, subscriberId: string, enterpriseId: string | null, subscription: SubscriberRow['push_subscriptions'][number],
): Promise<SubscriberRow | undefined> {
  const [row] = await db.query<SubscriberRow>(
    `update notify.ent_subscriber set updated_at = now(), push_subscriptions = (
       select coalesce(jsonb_agg(e order by n), '[]'::jsonb) from (
         select e, n from (
           select e, n from jsonb_array_elements(push_subscriptions) with ordinality as s(e, n) where e->>'endpoint' <> $3
           union all select $4::text::jsonb, 1000000
         ) every_one order by n desc limit $5
       ) newest)
     where subscriber_id = $1::uuid and enterprise_id is not distinct from $2::uuid
     returning ${S}`,
    [subscriberId, enterpriseId, subscription.endpoint, JSON.stringify(subscription), MAX_PUSH_SUBSCRIPTIONS],
  );
  return row;
}
