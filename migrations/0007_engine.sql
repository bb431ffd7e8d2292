-- Engine primitives the domains build on: stored job results, parked jobs (waiting for a signal
-- or a deadline without holding a worker slot), cancellation, and a final attempt whose holder
-- died is dead-lettered by the next claimer (which runs the queue's onDead hook) instead of by
-- the lease reaper, which knows no hooks.

-- parked: handed back by its handler until signal_key is signalled or run_at (the deadline) passes.
alter table nova_jobs drop constraint nova_jobs_state_check;
alter table nova_jobs add constraint nova_jobs_state_check check (state in ('queued', 'active', 'parked'));
alter table nova_jobs
  add column signal_key text,
  -- What woke a parked job: {"key", "data"} from a signal, or {"key", "timedOut": true}.
  add column wake jsonb,
  -- Set by a cancel of a running job; the holder sees it with its next heartbeat (or at once by event).
  add column cancel_requested boolean not null default false;
create index nova_jobs_parked_signal on nova_jobs (signal_key) where state = 'parked';
create index nova_jobs_parked_deadline on nova_jobs (run_at) where state = 'parked';

alter table nova_job_results add column result jsonb;
alter table nova_job_results drop constraint nova_job_results_state_check;
alter table nova_job_results add constraint nova_job_results_state_check
  check (state in ('completed', 'dead', 'cancelled'));

-- flux_pgmq_read now also dead-letters due messages that were read max_attempts times already
-- (the reaper returns every expired lease to the queue; whoever claims next decides).
create or replace function flux_pgmq_read(queue_name text, visibility_timeout integer, qty integer)
returns table (msg_id bigint, read_ct integer, enqueued_at timestamptz, vt timestamptz, message jsonb)
language sql as $$
  with spent as (
    delete from nova_jobs j
    where j.queue = queue_name and j.state = 'queued' and j.run_at <= now() and j.attempts >= j.max_attempts
    returning j.*
  ), buried as (
    insert into nova_job_results (id, queue, state, payload, priority, attempts, max_attempts,
                                  group_key, dedup_key, created_at, started_at, last_error)
    select id, queue, 'dead', payload, priority, attempts, max_attempts, group_key, dedup_key,
           created_at, started_at, last_error from spent
    returning id
  ), next as (
    select j.id from nova_jobs j
    where j.queue = queue_name and j.state = 'queued' and j.run_at <= now() and j.attempts < j.max_attempts
    order by j.priority desc, j.run_at, j.id
    limit qty
    for update skip locked
  )
  update nova_jobs j
  set state = 'active', attempts = j.attempts + 1, lease_token = (select nextval('nova_lease_seq')),
      lease_expires_at = now() + make_interval(secs => visibility_timeout), locked_by = 'sql',
      started_at = now()
  from next where j.id = next.id and (select count(*) from buried) >= 0
  returning j.id, j.attempts, j.created_at, j.lease_expires_at, j.payload
$$;
