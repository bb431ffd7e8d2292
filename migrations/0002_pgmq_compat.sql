-- The PGMQ-style SQL surface documented by seed 001 (flux_pgmq_*), as thin functions over
-- nova_jobs, so SQL-only producers (database triggers, Supabase functions) and the seed's
-- monitoring queries work against a Nova database. Messages read here are leased like any claim:
-- an unacknowledged message comes back after `visibility_timeout` seconds, and goes to the
-- dead letters once it has been read max_attempts times.

-- flux_pgmq_send(queue_name, message, delay_seconds): enqueues one message, returns its id.
create function flux_pgmq_send(queue_name text, message jsonb, delay_seconds integer default 0)
returns bigint language sql as $$
  insert into nova_jobs (queue, payload, run_at, max_attempts)
  values (queue_name, message, now() + make_interval(secs => delay_seconds),
          coalesce((select q.max_attempts from nova_queues q where q.name = queue_name), 3))
  returning id
$$;

-- flux_pgmq_read(queue_name, visibility_timeout, qty): leases up to qty due messages.
create function flux_pgmq_read(queue_name text, visibility_timeout integer, qty integer)
returns table (msg_id bigint, read_ct integer, enqueued_at timestamptz, vt timestamptz, message jsonb)
language sql as $$
  with next as (
    select j.id from nova_jobs j
    where j.queue = queue_name and j.state = 'queued' and j.run_at <= now()
    order by j.priority desc, j.run_at, j.id
    limit qty
    for update skip locked
  )
  update nova_jobs j
  set state = 'active', attempts = j.attempts + 1, lease_token = (select nextval('nova_lease_seq')),
      lease_expires_at = now() + make_interval(secs => visibility_timeout), locked_by = 'sql',
      started_at = now()
  from next where j.id = next.id
  returning j.id, j.attempts, j.created_at, j.lease_expires_at, j.payload
$$;

-- flux_pgmq_delete(queue_name, message_id): acknowledges a message (kept as completed).
create function flux_pgmq_delete(queue_name text, message_id bigint)
returns boolean language sql as $$
  with done as (
    delete from nova_jobs j where j.queue = queue_name and j.id = message_id returning j.*
  ), kept as (
    insert into nova_job_results (id, queue, state, payload, priority, attempts, max_attempts,
                                  group_key, dedup_key, created_at, started_at)
    select id, queue, 'completed', payload, priority, attempts, max_attempts, group_key,
           dedup_key, created_at, started_at from done
    returning id
  )
  select count(*) > 0 from kept
$$;

-- flux_pgmq_metrics(queue_name): PGMQ's metrics row for one queue.
create function flux_pgmq_metrics(queue_name text)
returns table (queue_name text, queue_length bigint, newest_msg_age_sec integer,
               oldest_msg_age_sec integer, total_messages bigint, scrape_time timestamptz)
language sql as $$
  select queue_name,
         (select count(*) from nova_jobs j where j.queue = queue_name),
         (select extract(epoch from now() - max(j.created_at))::integer from nova_jobs j where j.queue = queue_name),
         (select extract(epoch from now() - min(j.created_at))::integer from nova_jobs j where j.queue = queue_name),
         (select count(*) from nova_jobs j where j.queue = queue_name)
           + (select count(*) from nova_job_results r where r.queue = queue_name),
         now()
$$;

-- flux_pgmq_list_queues(): every queue Nova knows, declared or sent to.
create function flux_pgmq_list_queues()
returns table (queue_name text, created_at timestamptz, is_partitioned boolean, is_unlogged boolean)
language sql as $$
  select name, created_at, false, false from nova_queues order by name
$$;
