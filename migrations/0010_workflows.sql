-- Durable workflows (seed 004's orchestrator): workflow versions, tags, runs, their memoized
-- steps and mid-run patches. Owned by src/workflows (store.ts).
--
-- A run executes its workflow function tick by tick (one `workflow.tick` job per tick); every
-- step's outcome is a row of run_steps, so a re-execution returns stored results instead of
-- running the step again. A waiting run holds no job: sleeps are delayed jobs, event waits are
-- rows below that POST /api/events completes.

-- One row per version of a workflow, code or document. A run is pinned to (name, version).
create table workflows (
  name text not null,
  version integer not null check (version > 0),
  kind text not null check (kind in ('code', 'document')),
  -- code: {retry, timeoutMs, concurrency}; document: the materialized {nodes, edges, metadata}.
  definition jsonb not null,
  -- sha256:<hex> of the definition: the original's cas_id and version_hash.
  definition_hash text not null,
  -- The original's artifact id (a dag_version, or a patch_set for a version made by a patch).
  artifact_id uuid not null unique default gen_random_uuid(),
  -- A version made by PATCH …/patch: {operations, description}.
  patch jsonb,
  created_by text not null default 'system',
  created_at timestamptz not null default now(),
  primary key (name, version)
);

-- The original's tags: a document workflow's name pointing at its current version. Deleting a
-- tag keeps its versions, so runs pinned to them stay readable.
create table workflow_tags (
  name text primary key,
  owner text not null,
  version integer not null,
  created_by text not null,
  created_at timestamptz not null default now(),
  moved_by text,
  moved_at timestamptz not null default now(),
  foreign key (name, version) references workflows (name, version)
);

create table runs (
  id uuid primary key,
  workflow text not null,
  version integer not null,
  status text not null default 'queued'
    check (status in ('queued', 'running', 'waiting', 'completed', 'failed', 'cancelled', 'timed_out')),
  input jsonb,
  output jsonb,
  error jsonb,
  idempotency_key text,
  parent_run_id uuid references runs (id) on delete set null,
  parent_step_id text,
  -- defineWorkflow's concurrency key; at most `limit` runs of one key are running or waiting.
  concurrency_key text,
  submitted_by text not null default 'system',
  -- The tick holding the run: its job id and lease token. A tick whose job lease lapsed loses the
  -- run to the next one; every write of a tick names its token.
  lease_job bigint,
  lease_token bigint,
  -- Set by a tick that found the run held: the holder runs another tick when it lets go.
  wake_pending boolean not null default false,
  deadline_at timestamptz,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz not null default now(),
  foreign key (workflow, version) references workflows (name, version)
);

create unique index runs_idempotency on runs (workflow, idempotency_key) where idempotency_key is not null;
create index runs_by_workflow on runs (workflow, created_at desc);
create index runs_by_status on runs (status, created_at desc);
create index runs_children on runs (parent_run_id) where parent_run_id is not null;
-- Admission by concurrency key looks only at live runs.
create index runs_concurrency on runs (workflow, concurrency_key, created_at)
  where concurrency_key is not null and status in ('queued', 'running', 'waiting');

create table run_steps (
  run_id uuid not null references runs (id) on delete cascade,
  -- Stable id given by the workflow; a repeated id in one execution gets `#2`, `#3`, ...
  step_id text not null,
  kind text not null check (kind in ('run', 'sleep', 'waitForEvent', 'invoke', 'http', 'map')),
  -- waiting: a timer, an event, a child or an http-worker job will complete it;
  -- retrying: failed, its next attempt is due at wake_at.
  status text not null check (status in ('waiting', 'retrying', 'completed', 'failed', 'cancelled')),
  attempt integer not null default 0,
  input jsonb,
  output jsonb,
  error jsonb,
  wake_at timestamptz,
  event_name text,
  -- The event's data must contain this object (jsonb @>).
  event_match jsonb,
  child_run_id uuid,
  started_at timestamptz not null default clock_timestamp(),
  finished_at timestamptz,
  primary key (run_id, step_id)
);

-- POST /api/events looks up waiting steps by event name.
create index run_steps_events on run_steps (event_name) where status = 'waiting' and event_name is not null;

-- Patches applied to one run's document while it runs (the original's run_patches).
create table run_patches (
  id uuid primary key default gen_random_uuid(),
  run_id uuid not null references runs (id) on delete cascade,
  seq integer not null,
  node_id text,
  operations jsonb not null,
  description text,
  cas_id text not null,
  artifact_id uuid not null default gen_random_uuid(),
  created_by text not null default 'system',
  created_at timestamptz not null default now(),
  unique (run_id, seq)
);
