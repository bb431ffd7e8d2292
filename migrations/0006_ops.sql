-- Operations surface: per-minute finished-job counters (throughput without counting rows) and
-- the registry of live Nova processes. Owned by src/queue (nova_queue_minutes) and
-- src/runtime/registry.ts (nova_workers).

-- Jobs finished (completed or dead) per queue and minute, added to by the statements that finish
-- them; retention drops minutes older than a day. Each connection adds to one of 8 shards (by
-- backend pid), so acks from different processes do not queue up on one row lock.
create table nova_queue_minutes (
  queue text not null,
  minute timestamptz not null,
  shard smallint not null default 0,
  finished integer not null default 0,
  primary key (queue, minute, shard)
);

-- Every running Nova process, registered at start and heartbeating; rows of processes silent
-- for long are removed by retention.
create table nova_workers (
  id text primary key,
  host text not null,
  pid integer not null,
  version text not null,
  roles text[] not null,
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now(),
  health_port integer,
  api_port integer
);
