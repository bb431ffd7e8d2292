-- Job search and queue history for the management API and dashboard. Owned by src/queue
-- (sql.ts LIST_JOBS for the index, history.ts for nova_queue_depth).
--
-- Payload search over finished jobs (`payload @> '{"threadId":"…"}'`): a GIN index with
-- jsonb_path_ops (smaller and faster for containment than the default operator class, and
-- containment is the only operator LIST_JOBS uses). With retention raised to keep a million
-- finished jobs, a search by one field stays under 100 ms p95 (bench/job-search.ts). Live jobs
-- get no such index: nova_jobs takes every claim and ack, and its partial indexes already bound
-- a search to one queue and state.
create index nova_job_results_payload on nova_job_results using gin (payload jsonb_path_ops);

-- Queue depth over time: one sample per queue and minute (waiting, scheduled, active), taken by
-- the singleton `nova:depth` loop of whichever process holds its lease, kept a day like the
-- per-minute counters. Sampling by minute, not on every change: depth moves with every job, and
-- a chart of the last hour or day needs no finer grain.
create table nova_queue_depth (
  queue text not null,
  at timestamptz not null,
  waiting integer not null,
  scheduled integer not null,
  active integer not null,
  primary key (queue, at)
);
