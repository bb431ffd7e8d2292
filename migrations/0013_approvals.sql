-- Human approvals (issue 15): step.approval and document nodes `approval`/`hitl`. Owned by
-- src/workflows (approval-store.ts).
--
-- A run waiting for an approval holds no job: its step is a run_steps row of kind `approval`,
-- the request is a row below, and a decision (API, signed link) or the timeout job completes
-- the step and ticks the run in one transaction.

alter table run_steps drop constraint run_steps_kind_check;
alter table run_steps add constraint run_steps_kind_check
  check (kind in ('run', 'sleep', 'waitForEvent', 'invoke', 'http', 'map', 'approval'));

create table approvals (
  id uuid primary key,
  run_id uuid not null references runs (id) on delete cascade,
  step_id text not null,
  message text,
  approvers text[] not null check (cardinality(approvers) > 0),
  -- N of M: this many approvals resolve it; it is rejected once N can no longer be reached.
  required integer not null check (required > 0),
  -- The form a decision's data must satisfy (JSON Schema), or null.
  form jsonb,
  require_reason boolean not null default false,
  on_timeout text not null default 'reject' check (on_timeout in ('reject', 'approve', 'fail')),
  timeout_at timestamptz,
  status text not null default 'pending' check (status in ('pending', 'approved', 'rejected', 'timed_out', 'cancelled')),
  -- The run's submitter, copied so self-approval is refused without a join.
  started_by text not null,
  created_at timestamptz not null default now(),
  resolved_at timestamptz
);

-- One pending approval per step: a retried tick finds it instead of asking twice. A step run
-- again (rerun from a failure) asks anew; the old, resolved row stays as the audit trail.
create unique index approvals_step on approvals (run_id, step_id) where status = 'pending';
-- The inbox: GET /api/approvals?status=pending&approver=…
create index approvals_pending on approvals using gin (approvers) where status = 'pending';
create index approvals_by_status on approvals (status, created_at desc);

-- Every decision, kept as the audit trail: who, when, from where, with what.
create table approval_decisions (
  id uuid primary key default gen_random_uuid(),
  approval_id uuid not null references approvals (id) on delete cascade,
  decided_by text not null,
  decision text not null check (decision in ('approve', 'reject')),
  reason text,
  data jsonb,
  -- api, link or cli.
  channel text not null,
  ip text,
  -- The signed link's id when the decision came by link: a link is usable once.
  link_id text unique,
  decided_at timestamptz not null default clock_timestamp(),
  unique (approval_id, decided_by)
);
