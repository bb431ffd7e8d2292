/**
 * Every statement on nova_schedules (migrations/0011_schedules.sql), one constant each, every
 * value bound. Only src/runtime/schedules.ts runs them.
 */

const COLUMNS = `name, cron, timezone, queue, payload, missed, catch_up_ms, enabled, source,
  next_run_at, last_run_at, last_job_id, created_at, updated_at`;

/** Every schedule, by name. */
export const LIST = `select ${COLUMNS} from nova_schedules order by name`;

/** $1 name. */
export const GET = `select ${COLUMNS} from nova_schedules where name = $1`;

/**
 * $1 name, $2 cron, $3 timezone, $4 queue, $5 payload (json text), $6 missed, $7 catch-up ms,
 * $8 enabled, $9 next run. Returns nothing when the name is taken.
 */
export const INSERT = `
  insert into nova_schedules (name, cron, timezone, queue, payload, missed, catch_up_ms, enabled, source, next_run_at)
  values ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8, 'api', $9)
  on conflict (name) do nothing
  returning ${COLUMNS}`;

/**
 * A domain's declared schedule, upserted at start: $1 name, $2 cron, $3 timezone, $4 queue,
 * $5 payload (json text), $6 missed, $7 catch-up ms, $8 next run computed from now. The stored
 * next run is kept unless the cron or time zone changed (a restart must not skip or repeat an
 * occurrence), and an unchanged row is not written at all. `enabled` stays as an operator set it.
 */
export const UPSERT_DECLARED = `
  insert into nova_schedules as s (name, cron, timezone, queue, payload, missed, catch_up_ms, source, next_run_at)
  values ($1, $2, $3, $4, $5::text::jsonb, $6, $7, 'code', $8)
  on conflict (name) do update set
    cron = excluded.cron, timezone = excluded.timezone, queue = excluded.queue, payload = excluded.payload,
    missed = excluded.missed, catch_up_ms = excluded.catch_up_ms, source = 'code', updated_at = now(),
    next_run_at = case
      when (s.cron, s.timezone) is distinct from (excluded.cron, excluded.timezone) or s.next_run_at is null
      then excluded.next_run_at else s.next_run_at end
  where (s.cron, s.timezone, s.queue, s.payload, s.missed, s.catch_up_ms, s.source)
    is distinct from (excluded.cron, excluded.timezone, excluded.queue, excluded.payload, excluded.missed,
                      excluded.catch_up_ms, excluded.source)`;

/** $1 name: deletes a schedule, returning its source (nothing when there was none). */
export const DELETE = `delete from nova_schedules where name = $1 returning source`;

/**
 * $1 name, $2 enabled, $3 next run (used when enabling: the time a schedule spent disabled is
 * not downtime, so it starts again from now rather than firing what it "missed").
 */
export const SET_ENABLED = `
  update nova_schedules set enabled = $2, updated_at = now(),
    next_run_at = case when $2 and not enabled then $3::timestamptz else next_run_at end
  where name = $1
  returning ${COLUMNS}`;

/**
 * $1 limit: locks the due rows for this transaction; rows another scheduler holds are skipped,
 * and a row it has advanced meanwhile no longer matches when re-checked, so no occurrence is
 * claimed twice. `now()` (not clock_timestamp()) so the index can serve the range.
 */
export const CLAIM_DUE = `
  select name, cron, timezone, queue, payload, missed, catch_up_ms, next_run_at, now() as db_now
  from nova_schedules
  where enabled and next_run_at <= now()
  order by next_run_at
  limit $1
  for update skip locked`;

/** $1 name: one row, waiting for a scheduler that holds it (a manual trigger). */
export const LOCK_ONE = `
  select name, cron, timezone, queue, payload, missed, catch_up_ms, next_run_at, now() as db_now
  from nova_schedules where name = $1 for update`;

/** $1 name, $2 next run (null parks it), $3 last run or null to keep, $4 last job id or null to keep. */
export const ADVANCE = `
  update nova_schedules set next_run_at = $2,
    last_run_at = coalesce($3, last_run_at), last_job_id = coalesce($4, last_job_id)
  where name = $1`;

/** $1 name, $2 last run, $3 last job id: a manual trigger, which leaves the plan alone. */
export const RECORD_RUN = `update nova_schedules set last_run_at = $2, last_job_id = $3 where name = $1`;

/**
 * How long until the earliest enabled occurrence, on the database's clock: every process
 * measures against the same clock, so a process whose own clock runs ahead does not spin.
 */
export const MS_UNTIL_NEXT = `
  select (extract(epoch from (min(next_run_at) - clock_timestamp())) * 1000)::float8 as ms
  from nova_schedules where enabled`;
