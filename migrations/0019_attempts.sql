-- Attempts counted when a handler starts, and a history of them (the job page's attempts).
--
-- A claim now charges an attempt only to the jobs its claimer starts at once; prefetched jobs are
-- charged when they start (src/queue/sql.ts MARK_STARTED), so a crash charges nothing to a job
-- that never ran. Every attempt that did not complete (failed, dead-lettered, lease expired) is
-- recorded here; the completed one is the kept row in nova_job_results, which now names its
-- worker too.

alter table nova_job_results add column worker text;

create table nova_job_attempts (
  job_id bigint not null,
  queue text not null,
  attempt integer not null,
  started_at timestamptz,
  finished_at timestamptz not null default now(),
  worker text,
  outcome text not null check (outcome in ('retry', 'dead', 'lease-expired')),
  error jsonb
);

create index nova_job_attempts_job on nova_job_attempts (job_id);
create index nova_job_attempts_finished on nova_job_attempts (finished_at);
