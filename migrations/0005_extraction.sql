-- AI extraction (seed 000's extraction-queue / extraction workers): one row per message and
-- extraction schema version. Owned by src/extraction (store.ts).
--
-- The row exists from the moment `extraction-queue` queues the message (status `queued`), so the
-- next run of that role finds nothing new to queue; a schema-version bump is a new row, which
-- is how stale extractions get queued again while the old result stays readable.
create table email_extractions (
  message_id uuid not null references flux_email_messages (id) on delete cascade,
  schema_version integer not null,
  -- queued: waiting for the `extraction` role; succeeded: `result` holds the validated extraction;
  -- failed: invalid output after the repair attempt, or the provider kept failing (see `error`);
  -- skipped: the message was deleted before its turn.
  status text not null check (status in ('queued', 'succeeded', 'failed', 'skipped')),
  result jsonb,
  -- The provider's last output when it did not validate, kept for diagnosis.
  raw_output text,
  error text,
  provider text,
  model text,
  prompt_version text,
  input_tokens integer,
  output_tokens integer,
  -- Provider calls spent on this row (a repair is a second call).
  calls integer not null default 0,
  duration_ms integer,
  queued_at timestamptz not null default now(),
  extracted_at timestamptz,
  updated_at timestamptz not null default now(),
  primary key (message_id, schema_version)
);

-- `extraction-queue` re-sends rows that stayed queued too long (their job was lost); few rows,
-- so the partial index stays small.
create index email_extractions_queued on email_extractions (queued_at) where status = 'queued';
-- Seed 003's blocker detection reads the messages flagged as blockers, newest first.
create index email_extractions_blockers on email_extractions (extracted_at desc)
  where status = 'succeeded' and (result -> 'blocker' ->> 'isBlocker') = 'true';
