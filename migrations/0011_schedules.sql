-- Cron schedules: each row enqueues a job on `queue` at every occurrence of `cron` in `timezone`.
-- Owned by src/runtime/schedules.ts (statements in schedules-sql.ts). Every process runs a
-- scheduler that claims due rows FOR UPDATE SKIP LOCKED and advances next_run_at in the same
-- transaction as the job insert, so each occurrence fires once however many processes run.
create table nova_schedules (
  name text primary key,
  cron text not null,
  timezone text not null default 'UTC',
  queue text not null,
  payload jsonb not null default '{}',
  -- What to do with occurrences missed while no scheduler ran: drop them, or fire the latest one.
  missed text not null default 'skip' check (missed in ('skip', 'run-once')),
  -- run-once only: fire the latest missed occurrence only if it is at most this old.
  catch_up_ms bigint check (catch_up_ms is null or catch_up_ms >= 0),
  enabled boolean not null default true,
  -- 'code': declared by a domain and upserted at start; 'api': created through the API or CLI.
  source text not null default 'api' check (source in ('code', 'api')),
  -- The next occurrence to fire; null when the cron never fires again or no longer parses.
  next_run_at timestamptz,
  last_run_at timestamptz,
  last_job_id bigint,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- The schedulers' two reads: the earliest enabled occurrence (when to wake) and the due rows.
create index nova_schedules_due on nova_schedules (next_run_at) where enabled;

-- Wakes every scheduler (LISTEN nova_schedules) when a row may need firing sooner than planned:
-- inserted, enabled, or its next run moved earlier. The schedulers' own advance moves next_run_at
-- later and stays silent; otherwise every occurrence would wake every process for nothing.
create function nova_schedules_changed() returns trigger language plpgsql as $$
begin
  perform pg_notify('nova_schedules', new.name);
  return null;
end $$;
create trigger nova_schedules_inserted after insert on nova_schedules
  for each row when (new.enabled) execute function nova_schedules_changed();
create trigger nova_schedules_updated after update on nova_schedules
  for each row when (new.enabled and new.next_run_at is not null and (
    not old.enabled or old.next_run_at is null or new.next_run_at < old.next_run_at))
  execute function nova_schedules_changed();
