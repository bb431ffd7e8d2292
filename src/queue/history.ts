import type { Sql } from '../storage/index.ts';

/**
 * A queue's recent history for charts: jobs processed (completed or dead, from the per-minute
 * counters nova_queue_minutes), failures (dead letters by the minute they died, from the kept
 * finished rows, so bounded by NOVA_RETAIN_FAILED), and depth (waiting, scheduled, active) from
 * the minute samples in nova_queue_depth. Statements here, beside the queue module that owns
 * those tables.
 */

/** Records this minute's depth of every queue (one statement; a second run in a minute overwrites). */
const SAMPLE_DEPTH = `
  insert into nova_queue_depth as d (queue, at, waiting, scheduled, active)
  select q.name, date_trunc('minute', now()),
         (select count(*) from nova_jobs j where j.queue = q.name and j.state = 'queued' and j.run_at <= now()),
         (select count(*) from nova_jobs j where j.queue = q.name and j.state = 'queued' and j.run_at > now()),
         (select count(*) from nova_jobs j where j.queue = q.name and j.state = 'active')
  from nova_queues q
  order by q.name
  on conflict (queue, at) do update
    set waiting = excluded.waiting, scheduled = excluded.scheduled, active = excluded.active`;

/** $1 max age ms: drops depth samples older than that. */
const PRUNE_DEPTH = `delete from nova_queue_depth where at < now() - make_interval(secs => $1::float8 / 1000)`;

/**
 * $1 queue, $2 buckets, $3 bucket seconds: the last $2 buckets up to now, oldest first, each with
 * its processed and failed counts and the last depth sample inside it (null when none was taken).
 */
const SERIES = `
  with b as (
    select date_trunc('minute', now()) - make_interval(secs => $3::float8 * (n - 1)) as at
    from generate_series($2::int, 1, -1) as n
  )
  select b.at,
    coalesce((select sum(m.finished) from nova_queue_minutes m
              where m.queue = $1 and m.minute >= b.at and m.minute < b.at + make_interval(secs => $3::float8)), 0)::int as processed,
    (select count(*) from nova_job_results r
     where r.queue = $1 and r.state = 'dead' and r.finished_at >= b.at and r.finished_at < b.at + make_interval(secs => $3::float8))::int as failed,
    d.waiting, d.scheduled, d.active
  from b left join lateral (
    select waiting, scheduled, active from nova_queue_depth d
    where d.queue = $1 and d.at >= b.at and d.at < b.at + make_interval(secs => $3::float8)
    order by d.at desc limit 1
  ) d on true
  order by b.at`;

export type HistoryRange = 'hour' | 'day';

/** One minute per point for the last hour, a quarter of an hour per point for the last day. */
export const RANGES: Record<HistoryRange, { buckets: number; bucketSeconds: number }> = {
  hour: { buckets: 60, bucketSeconds: 60 },
  day: { buckets: 96, bucketSeconds: 900 },
};

export interface HistoryPoint {
  at: Date;
  processed: number;
  failed: number;
  waiting: number | null;
  scheduled: number | null;
  active: number | null;
}

export async function queueHistory(sql: Sql, queue: string, range: HistoryRange): Promise<HistoryPoint[]> {
  const { buckets, bucketSeconds } = RANGES[range];
  return sql.query<HistoryPoint>(SERIES, [queue, buckets, bucketSeconds]);
}

export async function sampleDepth(sql: Sql, maxAgeMs: number): Promise<void> {
  await sql.query(SAMPLE_DEPTH);
  await sql.query(PRUNE_DEPTH, [maxAgeMs]);
}
