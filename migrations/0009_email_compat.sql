-- Seed 001's SQL surface, complete (issue 18): the eight functions its README names that Nova
-- lacked, the trigger that queues rows inserted into flux_webhook_notifications by SQL, the
-- seed's three queues declared at migration time (flux_pgmq_list_queues lists them before any
-- process starts), and get_sync_progress().threads_queued with the meaning inbox_sync_stats gives
-- it. The README names these functions with "(...)": argument names are the seed's column names
-- (docs/MIGRATING.md lists each signature). Owned by src/email (SQL producers' entry points).

-- The seed's queues, with their attempts (3 webhooks, 3 discovery, 5 threads); a process that
-- declares them later keeps or updates these rows.
insert into nova_queues (name, max_attempts) values
  ('nylas_webhook_notifications', 3), ('inbox_backfill_jobs', 3), ('thread_sync_jobs', 5)
on conflict (name) do nothing;

-- nova_enqueue(queue_name, message, dedup_key, group_key, delay_seconds): one job, as the
-- TypeScript client sends it; a dedup key held by a live job returns that job's id instead.
create function nova_enqueue(queue_name text, message jsonb, dedup_key text default null,
                             group_key text default null, delay_seconds integer default 0)
returns bigint language plpgsql as $$
#variable_conflict use_column
declare
  job_id bigint;
begin
  insert into nova_jobs (queue, payload, run_at, max_attempts, group_key, dedup_key)
  values (queue_name, message, now() + make_interval(secs => delay_seconds),
          coalesce((select q.max_attempts from nova_queues q where q.name = queue_name), 3),
          nova_enqueue.group_key, nova_enqueue.dedup_key)
  on conflict (queue, dedup_key) where dedup_key is not null do nothing
  returning id into job_id;
  if job_id is null then
    select j.id into job_id from nova_jobs j where j.queue = queue_name and j.dedup_key = nova_enqueue.dedup_key;
  end if;
  return job_id;
end $$;

-- Rows inserted by SQL (the seed's intake, an Edge Function, psql) are queued for the `webhooks`
-- role. Nova's own intake queues its rows in the same statement: those already have a job made
-- in this transaction (run_at = now(), found through nova_jobs_due), so they are not queued twice.
create function flux_webhook_notifications_queue() returns trigger language plpgsql as $$
begin
  insert into nova_jobs (queue, payload, max_attempts)
  select 'nylas_webhook_notifications', jsonb_build_object('notificationId', n.id),
         coalesce((select q.max_attempts from nova_queues q where q.name = 'nylas_webhook_notifications'), 3)
  from new_rows n
  where n.status = 'pending' and n.payload is not null
    and not exists (
      select 1 from nova_jobs j
      where j.queue = 'nylas_webhook_notifications' and j.state = 'queued' and j.run_at = now()
        and j.payload ->> 'notificationId' = n.id::text);
  return null;
end $$;
create trigger flux_webhook_notifications_queue after insert on flux_webhook_notifications
  referencing new table as new_rows for each statement execute function flux_webhook_notifications_queue();

-- queue_nylas_webhook_notification(payload, notification_id, notification_type, grant_id):
-- records a Nylas envelope in the audit log and queues it (through the trigger above). The ids
-- default to the envelope's own; a redelivery (same notification_id) is not queued again.
-- Returns the audit row's id.
create function queue_nylas_webhook_notification(payload jsonb, notification_id text default null,
                                                 notification_type text default null, grant_id text default null)
returns uuid language plpgsql as $$
#variable_conflict use_column
declare
  row_id uuid;
  envelope_id text := coalesce(queue_nylas_webhook_notification.notification_id, payload ->> 'id');
begin
  insert into flux_webhook_notifications (notification_id, notification_type, grant_id, payload,
                                          webhook_time, delivery_attempt)
  values (envelope_id,
          coalesce(queue_nylas_webhook_notification.notification_type, payload ->> 'type'),
          coalesce(queue_nylas_webhook_notification.grant_id, payload -> 'data' -> 'object' ->> 'grant_id'),
          payload,
          to_timestamp((payload ->> 'time')::float8),
          (payload ->> 'webhook_delivery_attempt')::int)
  on conflict (notification_id) where notification_id is not null do nothing
  returning id into row_id;
  if row_id is null then
    select n.id into row_id from flux_webhook_notifications n where n.notification_id = envelope_id;
  end if;
  return row_id;
end $$;

-- acknowledge_webhook_notification(notification_id, status, error_message, processing_duration_ms):
-- records the outcome of a notification processed outside Nova. notification_id is the audit
-- row's id or the envelope's id. Returns whether a row was updated.
create function acknowledge_webhook_notification(notification_id text, status text default 'processed',
                                                 error_message text default null,
                                                 processing_duration_ms integer default null)
returns boolean language sql as $$
  with done as (
    update flux_webhook_notifications n
    set status = acknowledge_webhook_notification.status,
        error_message = acknowledge_webhook_notification.error_message,
        processing_duration_ms = acknowledge_webhook_notification.processing_duration_ms,
        processed_at = now()
    where n.id::text = acknowledge_webhook_notification.notification_id
       or n.notification_id = acknowledge_webhook_notification.notification_id
    returning 1
  )
  select count(*) > 0 from done
$$;

-- queue_inbox_backfill(inbox_id, backfill_since, backfill_until): opens a new backfill run of the
-- inbox (its configuration created on first use) and queues its discovery job, as
-- POST /api/inboxes/:id/backfill does. The window defaults to the last year. Returns the job id,
-- or null when a backfill of the inbox is already under way.
create function queue_inbox_backfill(inbox_id uuid, backfill_since timestamptz default null,
                                     backfill_until timestamptz default null)
returns bigint language plpgsql as $$
#variable_conflict use_column
declare
  cfg uuid;
  run integer;
  until_at timestamptz := coalesce(queue_inbox_backfill.backfill_until, now());
  since_at timestamptz := coalesce(queue_inbox_backfill.backfill_since, until_at - interval '365 days');
begin
  insert into flux_inbox_configurations (inbox_id) values (queue_inbox_backfill.inbox_id)
  on conflict (inbox_id) do update set updated_at = flux_inbox_configurations.updated_at
  returning id into cfg;
  update flux_inbox_configurations
  set backfill_status = 'pending', backfill_run = backfill_run + 1, backfill_since = since_at,
      backfill_until = until_at, backfill_started_at = null, backfill_completed_at = null,
      backfill_progress = '{}'::jsonb, backfill_checkpoint = null, backfill_error = null, updated_at = now()
  where id = cfg
    and not (backfill_status in ('discovering', 'thread_sync') or (backfill_status = 'pending' and backfill_run > 0))
  returning backfill_run into run;
  if run is null then
    return null;
  end if;
  delete from queued_threads where config_id = cfg;
  delete from inbox_sync_stats where config_id = cfg;
  insert into backfill_history (config_id, run, event, detail, actor)
  values (cfg, run, 'started', jsonb_build_object('since', since_at, 'until', until_at), 'sql');
  return nova_enqueue('inbox_backfill_jobs', jsonb_build_object('configId', cfg, 'run', run),
                      cfg || ':run:' || run, cfg::text);
end $$;

-- insert_queued_thread_idempotent(config_id, grant_id, thread_id, thread): adds a discovered
-- thread to the backfill's list once, counting it in inbox_sync_stats. Returns whether it was new.
create function insert_queued_thread_idempotent(config_id uuid, grant_id text, thread_id text, thread jsonb default null)
returns boolean language plpgsql as $$
#variable_conflict use_column
declare
  added integer;
begin
  insert into queued_threads (config_id, grant_id, thread_id, thread)
  values (insert_queued_thread_idempotent.config_id, insert_queued_thread_idempotent.grant_id,
          insert_queued_thread_idempotent.thread_id, insert_queued_thread_idempotent.thread)
  on conflict (config_id, thread_id) do nothing;
  get diagnostics added = row_count;
  if added > 0 then
    insert into inbox_sync_stats as s (config_id, inbox_id, backfill_status, threads_queued)
    select c.id, c.inbox_id, c.backfill_status, 1 from flux_inbox_configurations c
    where c.id = insert_queued_thread_idempotent.config_id
    on conflict (config_id) do update set threads_queued = s.threads_queued + 1, updated_at = now();
  end if;
  return added > 0;
end $$;

-- queue_thread_sync(config_id, thread_id, grant_id, delay_seconds): queues the sync job of one
-- thread of a backfill (adding the thread to its list if needed). Returns the job id; a thread
-- whose job is live already returns that job.
create function queue_thread_sync(config_id uuid, thread_id text, grant_id text default null,
                                  delay_seconds integer default 0)
returns bigint language plpgsql as $$
#variable_conflict use_column
begin
  if queue_thread_sync.grant_id is not null then
    perform insert_queued_thread_idempotent(queue_thread_sync.config_id, queue_thread_sync.grant_id, queue_thread_sync.thread_id);
  end if;
  return nova_enqueue('thread_sync_jobs',
                      jsonb_build_object('configId', queue_thread_sync.config_id, 'threadId', queue_thread_sync.thread_id),
                      queue_thread_sync.config_id || ':' || queue_thread_sync.thread_id,
                      queue_thread_sync.config_id::text, queue_thread_sync.delay_seconds);
end $$;

-- transition_to_thread_sync(config_id): ends discovery (status thread_sync) and queues a sync job
-- for every listed thread still queued. Returns how many threads it queued jobs for.
create function transition_to_thread_sync(config_id uuid)
returns integer language plpgsql as $$
#variable_conflict use_column
declare
  n integer := 0;
  t record;
begin
  update flux_inbox_configurations c
  set backfill_status = 'thread_sync', backfill_started_at = coalesce(c.backfill_started_at, now()), updated_at = now()
  where c.id = transition_to_thread_sync.config_id and c.backfill_status in ('pending', 'discovering', 'thread_sync');
  update inbox_sync_stats s set backfill_status = 'thread_sync', updated_at = now()
  where s.config_id = transition_to_thread_sync.config_id;
  for t in select q.thread_id from queued_threads q
           where q.config_id = transition_to_thread_sync.config_id and q.status = 'queued' order by q.id loop
    perform queue_thread_sync(transition_to_thread_sync.config_id, t.thread_id);
    n := n + 1;
  end loop;
  return n;
end $$;

-- initialize_sync_stats(config_id): creates (or recounts) the backfill's inbox_sync_stats row
-- from its queued_threads, and returns it.
create function initialize_sync_stats(config_id uuid)
returns setof inbox_sync_stats language sql as $$
  insert into inbox_sync_stats as s (config_id, inbox_id, backfill_status, threads_queued, threads_processing,
                                     threads_completed, threads_failed, messages_synced)
  select c.id, c.inbox_id, c.backfill_status, count(q.id),
         count(q.id) filter (where q.status = 'processing'), count(q.id) filter (where q.status = 'completed'),
         count(q.id) filter (where q.status = 'failed'), coalesce(sum(q.messages_synced), 0)
  from flux_inbox_configurations c left join queued_threads q on q.config_id = c.id
  where c.id = initialize_sync_stats.config_id
  group by c.id, c.inbox_id, c.backfill_status
  on conflict (config_id) do update
    set threads_queued = excluded.threads_queued, threads_processing = excluded.threads_processing,
        threads_completed = excluded.threads_completed, threads_failed = excluded.threads_failed,
        messages_synced = excluded.messages_synced, backfill_status = excluded.backfill_status, updated_at = now()
  returning *
$$;

-- update_backfill_orchestration_progress(config_id, progress): merges keys into the
-- configuration's backfill_progress (what the dashboard and get_sync_progress show). Returns
-- whether the configuration exists.
create function update_backfill_orchestration_progress(config_id uuid, progress jsonb)
returns boolean language sql as $$
  with done as (
    update flux_inbox_configurations c
    set backfill_progress = coalesce(c.backfill_progress, '{}'::jsonb) || update_backfill_orchestration_progress.progress,
        updated_at = now()
    where c.id = update_backfill_orchestration_progress.config_id
    returning 1
  )
  select count(*) > 0 from done
$$;

-- get_sync_progress(config_id): threads_queued now counts every thread the backfill queued, as
-- inbox_sync_stats.threads_queued does (the seed's "Monitor Active Syncs" divides by it);
-- threads_waiting is what 0004 called threads_queued (listed, not started yet).
drop function if exists get_sync_progress(uuid);
create function get_sync_progress(p_config_id uuid)
returns table (config_id uuid, backfill_status text, backfill_since timestamptz,
               backfill_until timestamptz, backfill_started_at timestamptz,
               backfill_completed_at timestamptz, threads_total bigint, threads_queued bigint,
               threads_processing bigint, threads_completed bigint, threads_failed bigint,
               messages_synced bigint, percent_complete numeric, backfill_progress jsonb,
               backfill_error text, threads_waiting bigint)
language sql stable as $$
  select c.id, c.backfill_status, c.backfill_since, c.backfill_until, c.backfill_started_at,
         c.backfill_completed_at,
         count(q.id),
         count(q.id),
         count(q.id) filter (where q.status = 'processing'),
         count(q.id) filter (where q.status = 'completed'),
         count(q.id) filter (where q.status = 'failed'),
         coalesce(sum(q.messages_synced), 0)::bigint,
         case when c.backfill_status = 'completed' then 100.00
              when count(q.id) = 0 then 0.00
              else round(count(q.id) filter (where q.status in ('completed', 'failed')) * 100.0 / count(q.id), 2)
         end,
         c.backfill_progress, c.backfill_error,
         count(q.id) filter (where q.status = 'queued')
  from flux_inbox_configurations c
  left join queued_threads q on q.config_id = c.id
  where c.id = p_config_id
  group by c.id
$$;

-- get_webhook_metrics as 0003 defines it, again: a database adopted from the seed (src/email/adopt.ts)
-- records 0003 without running it, and the seed's own version (over its own columns) is replaced.
drop function if exists get_webhook_metrics(interval);
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
