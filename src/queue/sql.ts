/**
 * Every statement of the queue engine, one constant each, every value bound as a parameter.
 * Tables: nova_jobs, nova_job_results, nova_job_groups, nova_queues (migrations/0001_queue.sql).
 */

const JOB_COLUMNS = `j.id, j.queue, j.payload, j.priority, j.attempts, j.max_attempts, j.group_key,
  j.dedup_key, j.lease_token, j.created_at, j.run_at, j.last_error, j.wake`;

/**
 * Copies finished rows (a CTE named `done`) into nova_job_results with the given state; `result`
 * is an SQL expression over `done` (its column of the same name, where the CTE has one).
 */
const keepAs = (
  state: 'completed' | 'dead' | 'cancelled', where = 'true', result = 'null::jsonb', attempts = 'attempts',
) => `
  insert into nova_job_results (id, queue, state, payload, priority, attempts, max_attempts,
                                group_key, dedup_key, created_at, started_at, last_error, result, worker)
  select id, queue, '${state}', payload, priority, ${attempts}, max_attempts, group_key, dedup_key,
         created_at, started_at, last_error, ${result}, locked_by from done where ${where}`;

/** Adds the jobs of a CTE named `done` to their queue's finished count for this minute. */
const countFinished = `
  insert into nova_queue_minutes as m (queue, minute, shard, finished)
  select queue, date_trunc('minute', now()), pg_backend_pid() % 8, count(*) from done group by queue
  -- one lock order for every writer (several queues at once from the reaper)
  order by queue
  on conflict (queue, minute, shard) do update set finished = m.finished + excluded.finished`;

/**
 * A CTE named `name` (default `enqueued`) that queues one job per row of the CTE `source`, with
 * `payload` (an SQL expression over that row) on the queue named by the parameter `queueParam`,
 * due at `runAt` (an optional timestamptz expression over that row; null or absent: now). For
 * producers whose own writes and jobs must be one statement (one round trip, atomic without a
 * transaction): the SQL stays the queue module's. Consumers are woken by the insert trigger like
 * any send.
 */
export const enqueueFrom = (source: string, payload: string, queueParam: string, runAt?: string, name = 'enqueued') => `
  ${name} as (
    insert into nova_jobs (queue, payload, max_attempts${runAt ? ', run_at' : ''})
    select ${queueParam}, ${payload},
           coalesce((select q.max_attempts from nova_queues q where q.name = ${queueParam}), 3)${runAt ? `,
           coalesce(${runAt}, now())` : ''}
    from ${source}
    returning id
  )`;

/** $1 queue, $2 max attempts: declares a queue and its default policy for SQL producers. */
export const DECLARE_QUEUE = `
  insert into nova_queues (name, max_attempts) values ($1, $2)
  on conflict (name) do update set max_attempts = excluded.max_attempts`;

/**
 * $1 queue, $2 jsonb array of {payload, priority, delay_ms, run_at, max_attempts, group_key,
 * dedup_key}. Returns the input position and id of every inserted row; rows whose dedup key is
 * live already are left out here and looked up by FIND_BY_DEDUP.
 */
export const SEND_BATCH = `
  with input as (
    select x.ord, x.value as v from jsonb_array_elements($2::text::jsonb) with ordinality as x(value, ord)
  ), ins as (
    insert into nova_jobs (queue, payload, priority, run_at, max_attempts, group_key, dedup_key)
    select $1, v->'payload', coalesce((v->>'priority')::int, 0),
           coalesce((v->>'run_at')::timestamptz, now() + make_interval(secs => coalesce((v->>'delay_ms')::float8, 0) / 1000)),
           coalesce((v->>'max_attempts')::int, (select q.max_attempts from nova_queues q where q.name = $1), 3),
           v->>'group_key', v->>'dedup_key'
    from input order by ord
    on conflict (queue, dedup_key) where dedup_key is not null do nothing
    returning id, dedup_key
  )
  select id, dedup_key from ins`;

/** $1 queue, $2 text[] dedup keys: the live jobs holding those keys. */
export const FIND_BY_DEDUP = `
  select id, dedup_key from nova_jobs where queue = $1 and dedup_key = any($2::text[])`;

/**
 * $1 id, $2 token: whether this lease still holds its job. Run inside a transaction, the row
 * lock keeps the job from being leased again until that transaction commits (a fence for
 * writes made on the strength of the lease).
 */
export const HOLDS_LEASE = `
  select 1 from nova_jobs where id = $1 and lease_token = $2 and state = 'active' for share`;

/*
 * A claim leases jobs, and charges an attempt only to the first `$5` of them in claim order: those
 * the claimer starts at once. The rest wait in its prefetch buffer uncharged (started_at null)
 * until COMPLETE charges them as they start, so a crash charges no attempt to a job that never ran.
 * `charged` tells the claimer which is which.
 */
/** Crashes after a checkpoint that a job is let off (REAP_EXPIRED); past it they are charged. */
export const MAX_REFUNDS = 25;

const LEASE = `state = 'active', attempts = j.attempts + (next.n <= $5)::int,
  lease_token = (select nextval('nova_lease_seq')),
  lease_expires_at = now() + make_interval(secs => $3::float8 / 1000),
  locked_by = $4, started_at = case when next.n <= $5 then now() end`;

const CLAIMED = `${JOB_COLUMNS}, next.n <= $5 as charged`;

/*
 * A claim commits without waiting for its WAL flush (synchronous_commit off for its own
 * transaction only): the flush is most of an idle queue's enqueue → start time. Losing a claim
 * costs nothing that a lost process does not already cost: if the server crashes before the
 * flush, the job is queued again and runs again (at-least-once), and any later synchronous
 * commit, such as the job's own ack, flushes the claim with it.
 */
const NO_FLUSH_WAIT = `cfg as materialized (select set_config('synchronous_commit', 'off', true))`;

/** Numbers the rows of a locking select (of id, priority, run_at) in claim order. */
const numbered = (select: string) => `
    select id, row_number() over (order by priority desc, run_at, id) as n from (${select}) c`;

/**
 * $1 queue, $2 limit, $3 lease ms, $4 worker id, $5 how many start at once: leases the next due
 * jobs of any group.
 */
export const CLAIM = `
  with ${NO_FLUSH_WAIT}, next as (${numbered(`
    select id, priority, run_at from nova_jobs
    where queue = $1 and state = 'queued' and run_at <= now()
    order by priority desc, run_at, id
    limit $2
    for update skip locked`)}
  )
  update nova_jobs j set ${LEASE}
  from next cross join cfg where j.id = next.id
  returning ${CLAIMED}`;

/** Same as CLAIM, for jobs without a group key in a queue whose groups are capped. */
export const CLAIM_UNGROUPED = `
  with ${NO_FLUSH_WAIT}, next as (${numbered(`
    select id, priority, run_at from nova_jobs
    where queue = $1 and state = 'queued' and run_at <= now() and group_key is null
    order by priority desc, run_at, id
    limit $2
    for update skip locked`)}
  )
  update nova_jobs j set ${LEASE}
  from next cross join cfg where j.id = next.id
  returning ${CLAIMED}`;

/**
 * $1 queue, $2 max groups, $3 group cap: locks the least recently served groups that have a due
 * job and room under the cap. Run in a transaction before CLAIM_GROUPED, which then counts active
 * jobs with a fresh snapshot while these group rows keep other claimers out.
 */
export const LOCK_GROUPS = `
  select g.group_key from nova_job_groups g
  where g.queue = $1
    and exists (select 1 from nova_jobs j where j.queue = g.queue and j.group_key = g.group_key
                and j.state = 'queued' and j.run_at <= now())
    and (select count(*) from nova_jobs a where a.queue = g.queue and a.group_key = g.group_key
         and a.state = 'active') < $3
  order by g.served_at nulls first, g.group_key
  limit $2
  for update of g skip locked`;

/**
 * $1 queue, $2 limit, $3 lease ms, $4 worker id, $5 how many start at once, $6 text[] locked
 * groups (in rotation order), $7 group cap: leases up to the free room of each group, then marks
 * the groups served.
 */
export const CLAIM_GROUPED = `
  with groups as (
    select k.group_key, k.ord,
           $7 - (select count(*) from nova_jobs a where a.queue = $1 and a.group_key = k.group_key
                 and a.state = 'active') as free
    from unnest($6::text[]) with ordinality as k(group_key, ord)
  ), picked as (
    select p.id, groups.ord from groups cross join lateral (
      select id from nova_jobs j
      where j.queue = $1 and j.group_key = groups.group_key and j.state = 'queued' and j.run_at <= now()
      order by j.priority desc, j.run_at, j.id
      limit greatest(groups.free, 0)
      for update skip locked
    ) p
    order by groups.ord
    limit $2
  ), next as (
    select id, row_number() over (order by ord, id) as n from picked
  ), claimed as (
    update nova_jobs j set ${LEASE}
    from next where j.id = next.id
    returning ${CLAIMED}
  ), served as (
    update nova_job_groups g set served_at = clock_timestamp()
    where g.queue = $1 and g.group_key in (select group_key from claimed)
  )
  select * from claimed`;

/*
 * Lease checks match on (id, lease_token) only. A token is set by a claim and cleared by every
 * path that ends the lease, so a match already means the job is active; adding
 * `state = 'active'` would let the planner walk the small partial index nova_jobs_leases and
 * probe the whole id array for each of its rows (quadratic: a 10,000-job ack took 14 s).
 */

/**
 * $1 bigint[] ids, $2 bigint[] tokens, $3 keep completed rows, $4 text[] results (JSON or null),
 * $5 int[] attempt numbers: acks jobs still leased by those tokens, keeping each one's result.
 * $6 bigint[] ids, $7 bigint[] tokens, $8 int[] attempt numbers: in the same round trip, charges
 * the attempts of prefetched jobs whose handlers started (idempotent: it sets the number; a lost
 * lease matches nothing). No job is in both lists. A charge skips a row that another statement
 * has locked (the job's handler checkpointing in its own transaction) instead of waiting for it,
 * which could close a lock cycle: that attempt goes uncounted, the side to err on.
 */
export const COMPLETE = `
  with charged as (
    select j.id, s.attempt from nova_jobs j, unnest($6::bigint[], $7::bigint[], $8::int[]) as s(id, token, attempt)
    where j.id = s.id and j.lease_token = s.token
    for update of j skip locked
  ), started as (
    update nova_jobs j set attempts = charged.attempt, started_at = now()
    from charged where j.id = charged.id
  ), done as (
    delete from nova_jobs j
    using unnest($1::bigint[], $2::bigint[], $4::text[], $5::int[]) as a(id, token, result, attempt)
    where j.id = a.id and j.lease_token = a.token
    returning j.*, a.result::jsonb as result, a.attempt
  ), kept as (${keepAs('completed', '$3::boolean', 'result', 'attempt')} returning id),
  counted as (${countFinished})
  select id from done`;

/**
 * $1 id, $2 token, $3 error jsonb, $4 retry delay ms, $5 dead now, $6 this attempt's number, $7
 * worker id: puts a failed job back with a delay while attempts remain, otherwise moves it to the
 * dead letters, and records the attempt in nova_job_attempts. Returns its new state, or no row
 * when the token no longer holds the lease.
 */
export const FAIL = `
  with retry as (
    update nova_jobs j
    set state = 'queued', attempts = $6, run_at = now() + make_interval(secs => $4::float8 / 1000),
        last_error = $3::text::jsonb, lease_token = null, lease_expires_at = null, locked_by = null, wake = null
    where j.id = $1 and j.lease_token = $2 and j.state = 'active'
      and $6 < j.max_attempts and not $5::boolean
    returning j.id, j.queue, j.started_at
  ), done as (
    delete from nova_jobs j
    where j.id = $1 and j.lease_token = $2 and j.state = 'active'
      and ($6 >= j.max_attempts or $5::boolean)
    returning j.id, j.queue, j.payload, j.priority, $6::int as attempts, j.max_attempts, j.group_key,
              j.dedup_key, j.created_at, j.started_at, $3::text::jsonb as last_error, j.locked_by
  ), kept as (${keepAs('dead')} returning id),
  counted as (${countFinished}),
  history as (
    insert into nova_job_attempts (job_id, queue, attempt, started_at, worker, outcome, error)
    select id, queue, $6, started_at, $7, 'retry', $3::text::jsonb from retry
    union all select id, queue, $6, started_at, $7, 'dead', $3::text::jsonb from done
  )
  select 'retry' as outcome, queue from retry union all select 'dead', queue from done`;

/**
 * $1 bigint[] ids, $2 bigint[] tokens, $3 lease ms: extends leases; returns the ids still held,
 * each with whether a cancel was requested meanwhile.
 *
 * It never waits for a row lock. A row locked by another statement (this consumer's ack of
 * the job, its handler's checkpoint) is skipped, and counted as held while it still carries
 * the token; the next heartbeat renews it. Waiting instead deadlocked against the ack
 * statement, which locks an overlapping set of rows in another order: PostgreSQL broke each
 * such cycle after deadlock_timeout (1 s) by failing one of the two.
 */
export const EXTEND = `
  with mine as (
    select j.id from nova_jobs j, unnest($1::bigint[], $2::bigint[]) as a(id, token)
    where j.id = a.id and j.lease_token = a.token
    for update of j skip locked
  ), renewed as (
    update nova_jobs j set lease_expires_at = now() + make_interval(secs => $3::float8 / 1000)
    from mine where j.id = mine.id
    returning j.id, j.cancel_requested
  )
  select id, cancel_requested from renewed
  union all
  select j.id, false from nova_jobs j, unnest($1::bigint[], $2::bigint[]) as a(id, token)
  where j.id = a.id and j.lease_token = a.token and j.id not in (select id from mine)`;

/**
 * $1 id, $2 token, $3 delay ms, $4 attempts before this one: hands a job back to run after the
 * delay without spending the attempt (Defer). Returns its queue, or no row when the lease was lost.
 */
export const DEFER = `
  update nova_jobs j
  set state = 'queued', attempts = $4,
      run_at = now() + make_interval(secs => $3::float8 / 1000),
      lease_token = null, lease_expires_at = null, locked_by = null
  where j.id = $1 and j.lease_token = $2
  returning j.queue`;

/**
 * $1 id, $2 token, $3 signal key, $4 timeout ms (null: none), $5 attempts before this one: parks a
 * job until its key is signalled or the timeout passes, holding no lease and without spending the
 * attempt.
 */
export const PARK = `
  update nova_jobs j
  set state = 'parked', attempts = $5, signal_key = $3, wake = null,
      run_at = case when $4::float8 is null then 'infinity'::timestamptz
                    else now() + make_interval(secs => $4::float8 / 1000) end,
      lease_token = null, lease_expires_at = null, locked_by = null
  where j.id = $1 and j.lease_token = $2
  returning j.id`;

/** $1 signal key, $2 data json: wakes every job parked on the key. Returns their ids and queues. */
export const SIGNAL = `
  update nova_jobs j
  set state = 'queued', run_at = now(), wake = jsonb_build_object('key', $1::text, 'data', $2::text::jsonb)
  where j.state = 'parked' and j.signal_key = $1
  returning j.id, j.queue`;

/** $1 limit: wakes parked jobs whose deadline passed. Returns their ids and queues. */
export const WAKE_EXPIRED_PARKED = `
  with due as (
    select id from nova_jobs where state = 'parked' and run_at <= now()
    order by run_at limit $1 for update skip locked
  )
  update nova_jobs j
  set state = 'queued', run_at = now(), wake = jsonb_build_object('key', j.signal_key, 'timedOut', true)
  from due where j.id = due.id
  returning j.id, j.queue`;

/** The channel q.CANCEL announces a running job's cancel on (payload `{queue, id}`). */
export const CANCEL_CHANNEL = 'nova_cancel';

/**
 * $1 id, $2 error jsonb: cancels a job. A waiting or parked one is finished as cancelled at once;
 * a running one is flagged for its holder and announced on `nova_cancel` (delivered at commit, so
 * never for a cancel that did not happen). Returns the queue and what happened.
 */
export const CANCEL = `
  with done as (
    delete from nova_jobs j where j.id = $1 and j.state in ('queued', 'parked')
    returning j.id, j.queue, j.payload, j.priority, j.attempts, j.max_attempts, j.group_key,
              j.dedup_key, j.created_at, j.started_at, $2::text::jsonb as last_error, j.locked_by
  ), kept as (${keepAs('cancelled')} returning id),
  flagged as (
    update nova_jobs j set cancel_requested = true where j.id = $1 and j.state = 'active'
    returning j.queue, j.id
  ), noticed as (
    select f.queue, pg_notify('${CANCEL_CHANNEL}', json_build_object('queue', f.queue, 'id', f.id)::text) as sent from flagged f
  )
  select 'cancelled' as outcome, queue from done union all select 'cancelling', queue from noticed`;

/** $1 id, $2 token, $3 error jsonb: finishes a running job whose handler stopped on a cancel. */
export const FINISH_CANCELLED = `
  with done as (
    delete from nova_jobs j where j.id = $1 and j.lease_token = $2
    returning j.id, j.queue, j.payload, j.priority, j.attempts, j.max_attempts, j.group_key,
              j.dedup_key, j.created_at, j.started_at, $3::text::jsonb as last_error, j.locked_by
  ), kept as (${keepAs('cancelled')} returning id),
  counted as (${countFinished})
  select queue from done`;

/**
 * $1 bigint[] ids, $2 bigint[] tokens, $3 delay ms, $4 int[] attempts before this one: hands
 * leases back at once without counting the attempt (shutdown, or prefetched jobs that never
 * started). Returns the queues released.
 */
export const RELEASE = `
  update nova_jobs j
  set state = 'queued', attempts = a.base, run_at = now() + make_interval(secs => $3::float8 / 1000),
      lease_token = null, lease_expires_at = null, locked_by = null
  from unnest($1::bigint[], $2::bigint[], $4::int[]) as a(id, token, base)
  where j.id = a.id and j.lease_token = a.token
  returning j.queue`;

/**
 * $1 limit: returns jobs whose lease expired (their holder died or stalled) to their queue.
 * Safe to run from every process at once. A job whose last attempt expired goes back too, with
 * its attempts spent: the next claimer dead-letters it without running it, and so runs the
 * queue's onDead hook in that transaction (this statement knows no hooks).
 */
export const REAP_EXPIRED = `
  with expired as (
    select id, locked_by,
      -- a checkpoint taken during the attempt gives the attempt back (at most ${MAX_REFUNDS} times a job)
      coalesce(checkpoint_at >= started_at, false) and (
        select count(*) from nova_job_attempts a where a.job_id = nova_jobs.id and a.outcome = 'interrupted'
      ) < ${MAX_REFUNDS} as refund
    from nova_jobs
    where state = 'active' and lease_expires_at < now()
    order by lease_expires_at
    limit $1
    for update skip locked
  ), returned as (
    update nova_jobs j
    set state = 'queued', run_at = now(), attempts = j.attempts - expired.refund::int,
        -- a prefetched job that never started (started_at null) keeps its last error
        last_error = case when j.started_at is null then j.last_error
                          else jsonb_build_object('message', 'lease expired before the job was acknowledged',
                                                  'name', 'LeaseExpired', 'attempt', j.attempts) end,
        lease_token = null, lease_expires_at = null, locked_by = null
    from expired where j.id = expired.id
    returning j.id, j.queue, j.attempts, j.max_attempts, j.started_at, j.last_error, expired.locked_by, expired.refund
  ), history as (
    insert into nova_job_attempts (job_id, queue, attempt, started_at, worker, outcome, error)
    select id, queue, attempts + refund::int, started_at, locked_by,
           case when refund then 'interrupted' else 'lease-expired' end, last_error
    from returned
    where started_at is not null
  )
  select queue, attempts >= max_attempts as spent from returned`;

/** $1 bigint[] job ids: the recorded attempts of those jobs, oldest first. */
export const ATTEMPTS_OF = `
  select job_id, attempt, started_at, finished_at, worker, outcome, error from nova_job_attempts
  where job_id = any($1::bigint[]) order by job_id, finished_at`;

/** $1 max age ms: drops attempt records older than that (retention of finished jobs). */
export const PRUNE_ATTEMPTS = `
  delete from nova_job_attempts where finished_at < now() - make_interval(secs => $1::float8 / 1000)`;

/**
 * $1 id, $2 token: marks a resume point taken during the current attempt (see migration 0020).
 * Run it in the transaction that saves the job's own state, so both commit or neither does.
 */
export const CHECKPOINT = `
  update nova_jobs set checkpoint_at = now()
  where id = $1 and lease_token = $2 and state = 'active'
  returning id`;

/** $1 id, $2 token, $3 progress jsonb: records progress while the lease holds. */
export const PROGRESS = `
  update nova_jobs set progress = $3::text::jsonb
  where id = $1 and lease_token = $2 and state = 'active'
  returning id`;

/**
 * $1 queue, $2 bigint[] ids or null for all: moves dead letters back to the queue with fresh
 * attempts. A dead letter whose dedup key is live again stays dead.
 */
export const REDRIVE = `
  with done as (
    delete from nova_job_results r
    where r.queue = $1 and r.state = 'dead' and ($2::bigint[] is null or r.id = any($2::bigint[]))
      and (r.dedup_key is null or not exists (
        select 1 from nova_jobs j where j.queue = r.queue and j.dedup_key = r.dedup_key))
    returning r.*
  )
  insert into nova_jobs (id, queue, payload, priority, max_attempts, group_key, dedup_key, created_at, last_error)
  select id, queue, payload, priority, max_attempts, group_key, dedup_key, created_at, last_error from done
  returning id`;

/**
 * $1 queue, $2 state, $3 keep newest N, $4 max age ms: deletes finished rows past the newest N or
 * older than the age limit. Returns how many went.
 */
export const PRUNE = `
  with gone as (
    delete from nova_job_results r
    where r.queue = $1 and r.state = $2
      and (r.finished_at < now() - make_interval(secs => $4::float8 / 1000)
           or r.id in (select id from nova_job_results where queue = $1 and state = $2
                       order by finished_at desc offset $3))
    returning 1
  )
  select count(*)::int as n from gone`;

export const LIST_QUEUES = `select name from nova_queues order by name`;

/**
 * $1 queue: counts by state, which add up: waiting + scheduled + active are the live jobs (a
 * retry that is due is waiting again; scheduled_retry is the part of scheduled that waits for a
 * retry, the rest was sent with a delay). Live counts come from the partial indexes of nova_jobs,
 * kept finished rows from nova_job_results (bounded by retention), processed totals from the
 * per-minute counters (kept a day), which retention does not trim.
 */
export const METRICS = `
  select
    (select count(*) from nova_jobs where queue = $1 and state = 'queued' and run_at <= now())::int as waiting,
    (select count(*) from nova_jobs where queue = $1 and state = 'queued' and run_at > now())::int as scheduled,
    (select count(*) from nova_jobs where queue = $1 and state = 'queued' and attempts > 0 and run_at > now())::int as scheduled_retry,
    (select count(*) from nova_jobs where queue = $1 and state = 'active')::int as active,
    (select count(*) from nova_job_results where queue = $1 and state = 'completed')::int as completed,
    (select count(*) from nova_job_results where queue = $1 and state = 'dead')::int as dead,
    (select extract(epoch from now() - min(run_at)) * 1000 from nova_jobs
      where queue = $1 and state = 'queued' and run_at <= now())::float8 as oldest_waiting_ms,
    -- The last 60 s: this minute so far, plus the share of the previous minute still inside.
    (select coalesce(sum(case when minute = date_trunc('minute', now()) then finished
                              else finished * (1 - extract(second from now()) / 60) end), 0)
     from nova_queue_minutes
     where queue = $1 and minute >= date_trunc('minute', now()) - interval '1 minute')::float8 as throughput_per_minute,
    (select coalesce(sum(finished), 0) from nova_queue_minutes
     where queue = $1 and minute > now() - interval '1 hour')::int as processed_last_hour,
    (select coalesce(sum(finished), 0) from nova_queue_minutes
     where queue = $1 and minute > now() - interval '1 day')::int as processed_last_day`;

/** $1 max age ms: drops per-minute counters older than that. */
export const PRUNE_MINUTES = `
  delete from nova_queue_minutes where minute < now() - make_interval(secs => $1::float8 / 1000)`;

/*
 * Filters shared by both halves of LIST_JOBS: $5 payload containment (jsonb, `payload @> $5`,
 * served by the GIN index of migrations/0008_job_search.sql on finished jobs), $6 error text
 * (case-insensitive substring of the last error: name, message, code, cause chain), $7 / $8 from / to (created_at of live jobs,
 * finished_at of finished ones). A null leaves its filter out.
 */
const LIST_FILTERS = (time: string) => `
  and ($5::text is null or payload @> $5::text::jsonb)
  and ($6::text is null or strpos(lower(last_error::text), lower($6::text)) > 0)
  and ($7::timestamptz is null or ${time} >= $7::timestamptz)
  and ($8::timestamptz is null or ${time} < $8::timestamptz)`;

/**
 * $1 queue, $2 state (waiting | scheduled | active | completed | dead), $3 limit, $4 before id (or
 * null), $5..$8 LIST_FILTERS, $9 scheduled reason (delayed | retry, or null for both): one page
 * of a queue's jobs in that state, newest first. A scheduled job's reason is `retry` when it
 * failed before and waits for its next attempt, `delayed` when it was sent to run later.
 */
export const LIST_JOBS = `
  select * from (
    select id, queue, case when state = 'active' then 'active'
                           when run_at > now() then 'scheduled' else 'waiting' end as state,
           case when state = 'queued' and run_at > now()
                then case when attempts > 0 then 'retry' else 'delayed' end end as scheduled_reason,
           payload, priority, attempts, max_attempts, group_key, dedup_key, run_at, created_at,
           started_at, null::timestamptz as finished_at, last_error, progress
    from nova_jobs
    where queue = $1 and $2 in ('waiting', 'scheduled', 'active') and ($4::bigint is null or id < $4)
      and case $2 when 'active' then state = 'active'
                  when 'scheduled' then state = 'queued' and run_at > now()
                       and ($9::text is null or ($9::text = 'retry') = (attempts > 0))
                  else state = 'queued' and run_at <= now() end
      ${LIST_FILTERS('created_at')}
    union all
    select id, queue, state, null, payload, priority, attempts, max_attempts, group_key, dedup_key, null,
           created_at, started_at, finished_at, last_error, null
    from nova_job_results
    where queue = $1 and state = $2 and ($4::bigint is null or id < $4)
      ${LIST_FILTERS('finished_at')}
  ) j order by id desc limit $3`;

/**
 * $1 id: runs a dead, failed (waiting for its retry) or delayed job again now, with fresh
 * attempts. Returns its id when it did.
 */
export const RETRY_JOB = `
  with live as (
    update nova_jobs set run_at = now(), attempts = 0
    where id = $1 and state = 'queued' and (attempts > 0 or run_at > now())
    returning id
  ), dead as (
    delete from nova_job_results r
    where r.id = $1 and r.state = 'dead'
      and (r.dedup_key is null or not exists (select 1 from nova_jobs j where j.queue = r.queue and j.dedup_key = r.dedup_key))
    returning r.*
  ), back as (
    insert into nova_jobs (id, queue, payload, priority, max_attempts, group_key, dedup_key, created_at, last_error)
    select id, queue, payload, priority, max_attempts, group_key, dedup_key, created_at, last_error from dead
    on conflict do nothing
    returning id
  )
  select id from live union all select id from back`;

/** $1 id: deletes a job that is not running, live or finished. Returns whether it did. */
export const DELETE_JOB = `
  with live as (delete from nova_jobs where id = $1 and state = 'queued' returning id),
  finished as (delete from nova_job_results where id = $1 returning id)
  select id from live union all select id from finished`;

/** $1 queue: when the next queued job is due (null when the queue is empty). */
export const NEXT_DUE = `
  select min(run_at) as run_at from nova_jobs where queue = $1 and state = 'queued'`;

/** $1 id: one job, live or finished, with its result once completed. */
export const GET_JOB = `
  select id, queue, state, payload, priority, attempts, max_attempts, group_key, dedup_key,
         run_at, created_at, started_at, null::timestamptz as finished_at, last_error, progress,
         null::jsonb as result, signal_key, cancel_requested, locked_by as worker
  from nova_jobs where id = $1
  union all
  select id, queue, state, payload, priority, attempts, max_attempts, group_key, dedup_key,
         null, created_at, started_at, finished_at, last_error, null, result, null, false, worker
  from nova_job_results where id = $1`;
