-- Email sync (seed 001): connected inboxes, their sync configuration, the PostgreSQL copy of
-- threads and messages, and the webhook audit log. Table and column names follow the seed's
-- README so that its monitoring SQL runs unchanged. Owned by src/email.

-- One connected mailbox per Nylas grant.
create table flux_inboxes (
  id uuid primary key default gen_random_uuid(),
  grant_id text not null unique,
  email text,
  provider text,
  -- auth_expired: the grant stopped working (401/403 or grant.expired); deleted: grant.deleted.
  status text not null default 'active' check (status in ('active', 'auth_expired', 'deleted')),
  status_reason text,
  last_webhook_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Sync settings and backfill state of an inbox (one configuration per inbox).
create table flux_inbox_configurations (
  id uuid primary key default gen_random_uuid(),
  inbox_id uuid not null unique references flux_inboxes (id) on delete cascade,
  backfill_status text not null default 'pending'
    check (backfill_status in ('pending', 'discovering', 'thread_sync', 'completed', 'failed')),
  backfill_since timestamptz,
  backfill_started_at timestamptz,
  backfill_completed_at timestamptz,
  backfill_progress jsonb not null default '{}'::jsonb,
  -- Where discovery resumes after a crash: the next page token and the time-window fallback.
  backfill_checkpoint jsonb,
  backfill_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table flux_email_threads (
  id uuid primary key default gen_random_uuid(),
  inbox_id uuid not null references flux_inboxes (id) on delete cascade,
  grant_id text not null,
  nylas_thread_id text not null,
  subject text,
  snippet text,
  participants jsonb not null default '[]'::jsonb,
  message_ids jsonb not null default '[]'::jsonb,
  folders jsonb not null default '[]'::jsonb,
  has_attachments boolean not null default false,
  has_drafts boolean not null default false,
  unread boolean not null default false,
  starred boolean not null default false,
  earliest_message_date timestamptz,
  latest_message_received_date timestamptz,
  latest_message_sent_date timestamptz,
  -- Provider time of the state stored here; older notifications never overwrite newer state.
  source_version timestamptz not null default '-infinity',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (grant_id, nylas_thread_id)
);
create index flux_email_threads_inbox on flux_email_threads (inbox_id, latest_message_received_date desc);

create table flux_email_messages (
  id uuid primary key default gen_random_uuid(),
  inbox_id uuid not null references flux_inboxes (id) on delete cascade,
  grant_id text not null,
  nylas_message_id text not null,
  nylas_thread_id text not null,
  subject text,
  from_participants jsonb not null default '[]'::jsonb,
  to_participants jsonb not null default '[]'::jsonb,
  cc_participants jsonb not null default '[]'::jsonb,
  bcc_participants jsonb not null default '[]'::jsonb,
  reply_to jsonb not null default '[]'::jsonb,
  date timestamptz,
  unread boolean not null default false,
  starred boolean not null default false,
  snippet text,
  body text,
  folders jsonb not null default '[]'::jsonb,
  attachments jsonb not null default '[]'::jsonb,
  headers jsonb,
  -- Set by message.deleted; kept as a tombstone so a late, older notification cannot revive it.
  deleted_at timestamptz,
  source_version timestamptz not null default '-infinity',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (grant_id, nylas_message_id)
);
create index flux_email_messages_thread on flux_email_messages (grant_id, nylas_thread_id);
create index flux_email_messages_inbox_date on flux_email_messages (inbox_id, date desc);

-- Audit log of every webhook delivery that passed the signature check, including malformed ones.
create table flux_webhook_notifications (
  id uuid primary key default gen_random_uuid(),
  -- The envelope's id; null when the body could not be parsed.
  notification_id text,
  notification_type text,
  grant_id text,
  status text not null default 'pending'
    check (status in ('pending', 'processing', 'processed', 'error', 'ignored')),
  attempts integer not null default 0,
  error_message text,
  processing_duration_ms integer,
  payload jsonb,
  -- The body as received, kept only when it was not valid JSON.
  raw_body text,
  webhook_time timestamptz,
  delivery_attempt integer,
  received_at timestamptz not null default now(),
  processed_at timestamptz
);
-- Redeliveries (same envelope id) are acknowledged and not processed twice.
create unique index flux_webhook_notifications_notification_id on flux_webhook_notifications (notification_id)
  where notification_id is not null;
create index flux_webhook_notifications_received on flux_webhook_notifications (received_at desc);
create index flux_webhook_notifications_errors on flux_webhook_notifications (received_at desc)
  where status = 'error';

-- get_webhook_metrics(time_window): per notification type, how many arrived in the window and how
-- their processing went.
create function get_webhook_metrics(time_window interval default interval '1 hour')
returns table (notification_type text, total bigint, pending bigint, processing bigint,
               processed bigint, errors bigint, ignored bigint, avg_duration_ms numeric,
               max_duration_ms integer, avg_attempts numeric)
language sql stable as $$
  select coalesce(n.notification_type, '(unparsed)'),
         count(*),
         count(*) filter (where n.status = 'pending'),
         count(*) filter (where n.status = 'processing'),
         count(*) filter (where n.status = 'processed'),
         count(*) filter (where n.status = 'error'),
         count(*) filter (where n.status = 'ignored'),
         round(avg(n.processing_duration_ms), 2),
         max(n.processing_duration_ms),
         round(avg(n.attempts), 2)
  from flux_webhook_notifications n
  where n.received_at > now() - time_window
  group by 1
  order by 1
$$;
