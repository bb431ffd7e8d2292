-- Notifications (seed 002, XNovu): schema `notify` with the original's tables and enums, plus
-- the tables Nova adds for its own delivery (subscribers, preferences, per recipient × channel
-- deliveries, the in-app inbox, digests, the pollers' cursors). Owned by src/notify (store.ts).
--
-- Table and column names follow the original's Supabase migrations (docs/MIGRATING.md, Seed
-- 002). Differences: the enums live in `notify` rather than `shared_types`; `repr` and the
-- `auth.user_id()` defaults are left out (their functions live outside the original repo); ltree
-- category paths are kept as text. Added columns are marked "Nova:".

create schema if not exists notify;

create type notify.notification_channel_type as enum ('IN_APP', 'EMAIL', 'SMS', 'CHAT', 'PUSH');
create type notify.notification_workflow_type as enum ('STATIC', 'DYNAMIC');
create type notify.notification_status as enum ('PENDING', 'PROCESSING', 'SENT', 'FAILED', 'RETRACTED');
create type notify.publish_status as enum ('NONE', 'DRAFT', 'DISCARD', 'PUBLISH', 'DELETED', 'REVIEW');

create table notify.typ_notification_category (
  id bigint generated always as identity primary key,
  name text not null,
  description text,
  publish_status notify.publish_status not null default 'DRAFT',
  deactivated boolean not null default false,
  business_id uuid,
  enterprise_id uuid,
  code text unique,
  path_text text,
  sort_order integer not null default 0,
  created_at timestamptz not null default now(),
  created_by uuid,
  updated_at timestamptz not null default now(),
  updated_by uuid,
  unique (name, enterprise_id)
);

create table notify.typ_notification_priority (
  id bigint generated always as identity primary key,
  name text not null,
  description text,
  publish_status notify.publish_status not null default 'DRAFT',
  deactivated boolean not null default false,
  business_id uuid,
  enterprise_id uuid,
  code text unique,
  -- higher = more urgent
  sort_order integer not null default 0,
  created_at timestamptz not null default now(),
  created_by uuid,
  updated_at timestamptz not null default now(),
  updated_by uuid,
  unique (name, enterprise_id)
);

create table notify.ent_notification_template (
  id bigint generated always as identity primary key,
  name text not null,
  description text,
  publish_status notify.publish_status not null default 'DRAFT',
  deactivated boolean not null default false,
  business_id uuid,
  enterprise_id uuid,
  template_key text unique,
  typ_notification_category_id bigint references notify.typ_notification_category (id) on delete set null,
  channel_type notify.notification_channel_type not null,
  subject_template text,
  body_template text not null,
  variables_description jsonb,
  created_at timestamptz not null default now(),
  created_by uuid,
  updated_at timestamptz not null default now(),
  updated_by uuid,
  unique (name, enterprise_id, typ_notification_category_id)
);

create table notify.ent_notification_workflow (
  id bigint generated always as identity primary key,
  name text not null,
  description text,
  publish_status notify.publish_status not null default 'DRAFT',
  deactivated boolean not null default false,
  business_id uuid,
  enterprise_id uuid,
  typ_notification_category_id bigint references notify.typ_notification_category (id) on delete set null,
  workflow_type notify.notification_workflow_type not null,
  workflow_key text not null unique,
  default_channels notify.notification_channel_type[],
  payload_schema jsonb,
  control_schema jsonb,
  -- Nova: the template per channel, {"EMAIL": "<template_key>", "IN_APP": "..."}.
  template_overrides jsonb,
  -- Nova: critical workflows bypass preferences and quiet hours.
  critical boolean not null default false,
  -- Nova: {"windowMs": 10000, "maxEvents": 50} gathers a subscriber's events into one message.
  digest jsonb,
  -- Nova: {"limit": 5, "windowMs": 60000}: at most `limit` deliveries per subscriber and channel per window.
  throttle jsonb,
  -- Nova: deliver through Novu's events API instead of Nova's channels (needs NOVU_SECRET_KEY).
  forward_to_novu boolean not null default false,
  created_at timestamptz not null default now(),
  created_by uuid,
  updated_at timestamptz not null default now(),
  updated_by uuid,
  unique (name, enterprise_id)
);

create table notify.ent_notification_rule (
  id bigint generated always as identity primary key,
  name text not null,
  description text,
  publish_status notify.publish_status not null default 'DRAFT',
  deactivated boolean not null default false,
  business_id uuid,
  enterprise_id uuid,
  notification_workflow_id bigint not null references notify.ent_notification_workflow (id) on delete cascade,
  -- CRON (as the original) or EVENT (Nova: fired by POST /api/notify/events with a matching name)
  trigger_type text not null,
  trigger_config jsonb,
  rule_payload jsonb,
  created_at timestamptz not null default now(),
  created_by uuid,
  updated_at timestamptz not null default now(),
  updated_by uuid,
  unique (name, enterprise_id)
);

create table notify.ent_notification (
  id bigint generated always as identity primary key,
  name text not null,
  description text,
  publish_status notify.publish_status not null default 'DRAFT',
  deactivated boolean not null default false,
  business_id uuid,
  enterprise_id uuid,
  typ_notification_category_id bigint references notify.typ_notification_category (id) on delete set null,
  typ_notification_priority_id bigint references notify.typ_notification_priority (id) on delete set null,
  notification_workflow_id bigint references notify.ent_notification_workflow (id) on delete set null,
  notification_rule_id bigint references notify.ent_notification_rule (id) on delete set null,
  notification_status notify.notification_status not null default 'PENDING',
  payload jsonb not null,
  recipients uuid[] not null,
  channels notify.notification_channel_type[] default array['IN_APP']::notify.notification_channel_type[],
  overrides jsonb,
  tags text[],
  transaction_id text,
  scheduled_for timestamptz,
  processed_at timestamptz,
  retracted_at timestamptz,
  retraction_reason text,
  error_details jsonb,
  workflow_version integer default 1,
  -- Nova: how many times the row was handed to a delivery run (the failed poller's attempt count).
  dispatch_count integer not null default 0,
  -- Nova: the workflow run delivering the current dispatch.
  run_id uuid,
  created_at timestamptz not null default now(),
  created_by uuid,
  updated_at timestamptz not null default now(),
  updated_by uuid,
  unique (name, enterprise_id)
);
create index ent_notification_created on notify.ent_notification (created_at desc);
-- POST /api/notifications is idempotent by transaction id within a tenant.
create unique index ent_notification_transaction on notify.ent_notification (coalesce(enterprise_id, '00000000-0000-0000-0000-000000000000'::uuid), transaction_id)
  where transaction_id is not null;
-- The pollers: new rows past the cursor, due failed rows, due scheduled rows.
create index ent_notification_updated on notify.ent_notification (updated_at, id);
create index ent_notification_due on notify.ent_notification (notification_status, scheduled_for)
  where notification_status in ('PENDING', 'FAILED', 'PROCESSING');

-- Nova: recipients (the uuids of ent_notification.recipients) and where to reach them.
create table notify.ent_subscriber (
  id bigint generated always as identity primary key,
  enterprise_id uuid,
  subscriber_id uuid not null,
  name text,
  email text,
  phone text,
  chat_webhook_url text,
  -- web push subscriptions: [{endpoint, keys: {p256dh, auth}}]
  push_subscriptions jsonb not null default '[]',
  locale text,
  timezone text not null default 'UTC',
  -- 'HH:MM' local times; a window may wrap midnight (22:00 → 07:00)
  quiet_hours_start text,
  quiet_hours_end text,
  data jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique nulls not distinct (enterprise_id, subscriber_id)
);

-- Nova: opt-outs per subscriber, per workflow (null = every workflow) and channel.
create table notify.ent_subscriber_preference (
  id bigint generated always as identity primary key,
  enterprise_id uuid,
  subscriber_id uuid not null,
  notification_workflow_id bigint references notify.ent_notification_workflow (id) on delete cascade,
  channel_type notify.notification_channel_type not null,
  enabled boolean not null,
  updated_at timestamptz not null default now(),
  unique nulls not distinct (enterprise_id, subscriber_id, notification_workflow_id, channel_type)
);

-- Nova: one row per recipient × channel of a notification: its status, attempts and what was sent.
create table notify.ent_notification_delivery (
  id bigint generated always as identity primary key,
  notification_id bigint not null references notify.ent_notification (id) on delete cascade,
  enterprise_id uuid,
  recipient uuid not null,
  channel_type notify.notification_channel_type not null,
  -- PENDING, SENT, FAILED, SKIPPED (opted out, no address, retracted), DIGESTED (went into a digest)
  status text not null,
  attempts integer not null default 0,
  provider text,
  provider_message_id text,
  -- what was rendered: {subject, body, html, title, action}
  content jsonb,
  error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (notification_id, recipient, channel_type)
);

-- Nova: the in-app inbox.
create table notify.ent_inbox_message (
  id bigint generated always as identity primary key,
  enterprise_id uuid,
  subscriber_id uuid not null,
  notification_id bigint references notify.ent_notification (id) on delete cascade,
  title text,
  body text not null,
  action_url text,
  seen_at timestamptz,
  read_at timestamptz,
  archived_at timestamptz,
  retracted_at timestamptz,
  created_at timestamptz not null default now(),
  unique (notification_id, subscriber_id)
);
create index ent_inbox_message_by_subscriber on notify.ent_inbox_message (subscriber_id, id desc) where retracted_at is null;

-- Nova: digest buckets. Each event of a digest workflow is a row; a send claims the open rows of
-- a (subscriber, workflow, channel) key and records the digest in the same transaction, so an
-- event is in exactly one digest even when a worker dies mid-send.
create table notify.ent_digest_event (
  id bigint generated always as identity primary key,
  enterprise_id uuid,
  notification_id bigint not null references notify.ent_notification (id) on delete cascade,
  subscriber_id uuid not null,
  notification_workflow_id bigint not null,
  channel_type notify.notification_channel_type not null,
  payload jsonb not null,
  digest_id bigint,
  created_at timestamptz not null default now(),
  unique (notification_id, subscriber_id, channel_type)
);
create index ent_digest_event_open on notify.ent_digest_event (subscriber_id, notification_workflow_id, channel_type, id) where digest_id is null;

create table notify.ent_digest (
  id bigint generated always as identity primary key,
  enterprise_id uuid,
  subscriber_id uuid not null,
  notification_workflow_id bigint not null,
  channel_type notify.notification_channel_type not null,
  event_count integer not null,
  status text not null default 'PENDING',
  content jsonb,
  error text,
  created_at timestamptz not null default now(),
  sent_at timestamptz
);

-- Nova: the pollers' cursors, in the database so a restart resumes where the last poll stopped
-- (the original kept it in memory and rescanned 24 hours after a restart).
create table notify.poll_cursor (
  name text primary key,
  updated_at timestamptz not null,
  last_id bigint not null default 0,
  polled_at timestamptz not null default now(),
  rows_last_poll integer not null default 0
);

-- Rows that become due for delivery wake the `notifications` role at once: one dispatch job per
-- notification (dedup key notification-<id>), delayed to scheduled_for. The pollers only catch
-- what this misses (rows inserted before the migration, a job lost with a restored backup).
create function notify.ent_notification_wake() returns trigger language plpgsql as $$
begin
  perform nova_enqueue('notify.dispatch', jsonb_build_object('notificationId', n.id), 'notification-' || n.id, null,
                       greatest(0, ceil(extract(epoch from (n.scheduled_for - now()))))::integer)
  from new_rows n
  where n.notification_status = 'PENDING' and n.publish_status = 'PUBLISH' and not n.deactivated;
  return null;
end $$;
create trigger ent_notification_wake_insert after insert on notify.ent_notification
  referencing new table as new_rows for each statement execute function notify.ent_notification_wake();
create trigger ent_notification_wake_update after update on notify.ent_notification
  referencing new table as new_rows for each statement execute function notify.ent_notification_wake();
