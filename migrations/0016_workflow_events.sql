-- Workflows (issue 14, remaining parts). Owned by src/workflows (store.ts, tag-store.ts).

-- Events sent with POST /api/events, kept for WORKFLOW_EVENT_RETENTION_MS: a waitForEvent that
-- registers after an event was sent (the run was still queued, or busy with the steps before the
-- wait) is completed from here when it registers. Sending and registering take the same
-- advisory lock per event name, so one of the two always sees the other.
create table workflow_events (
  id bigint generated always as identity primary key,
  name text not null,
  data jsonb not null,
  created_at timestamptz not null default clock_timestamp()
);
create index workflow_events_by_name on workflow_events (name, created_at);
create index workflow_events_by_age on workflow_events (created_at);

-- Runs ever started per workflow, for GET /api/workflows without counting `runs`. Each insert of
-- a run adds 1 to one of 16 rows of its workflow (a random shard), in the inserting statement,
-- so concurrent starts of one workflow rarely wait for each other's row lock.
create table workflow_run_counts (
  workflow text not null,
  shard smallint not null,
  runs bigint not null default 0,
  primary key (workflow, shard)
);
insert into workflow_run_counts (workflow, shard, runs)
  select workflow, 0, count(*) from runs group by workflow;

-- Live runs per workflow are counted on this index alone (it holds only live runs).
create index runs_live on runs (workflow) where status in ('queued', 'running', 'waiting');

-- Every move of a document workflow's tag, for /api/v1/tags/:tag/history, undo and redo.
-- state: done (on the undo stack), undone (on the redo stack), discarded (a later move cleared
-- the redo stack, or the tag was deleted).
create table workflow_tag_moves (
  id bigint generated always as identity primary key,
  name text not null,
  action text not null check (action in ('create', 'patch', 'move', 'undo', 'redo', 'delete')),
  from_version integer,
  to_version integer,
  state text not null default 'done' check (state in ('done', 'undone', 'discarded')),
  moved_by text not null,
  moved_at timestamptz not null default now()
);
create index workflow_tag_moves_by_name on workflow_tag_moves (name, id);
insert into workflow_tag_moves (name, action, from_version, to_version, moved_by, moved_at)
  select name, 'create', null, version, coalesce(moved_by, created_by), moved_at from workflow_tags;

-- The version a patch was applied to (a tag moved back by undo or move can be patched again, so
-- versions of one name form a tree, not a line). Versions before this column were a line.
alter table workflows add column base_version integer;
update workflows set base_version = version - 1 where patch is not null;
