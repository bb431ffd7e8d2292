import type { Queryable } from '../storage/index.ts';

/**
 * Backfill state: every statement on flux_inbox_configurations, queued_threads,
 * inbox_sync_stats and backfill_history. A backfill run moves its configuration through
 * pending → discovering → thread_sync → completed (or failed); each write checks the run and
 * phase it expects, so a late or repeated job cannot move a newer run backwards.
 */

export type BackfillStatus = 'pending' | 'discovering' | 'thread_sync' | 'completed' | 'failed';

export interface Checkpoint {
  /** The next page to ask for; null once discovery has seen the last page. */
  pageToken: string | null;
  pages: number;
  /** Threads listed so far, and how many of them were new (queued) or already stored. */
  listed: number;
  queued: number;
  skipped: number;
  /** Messages of the skipped threads (already stored); absent in checkpoints saved before it was counted. */
  skippedMessages?: number;
  /**
   * The oldest latest_message_received_date seen (unix seconds): where a resumed discovery
   * restarts its window (latest_message_before) if the page token no longer works.
   */
  oldestSeen: number | null;
}

export interface BackfillConfig {
  id: string;
  inbox_id: string;
  grant_id: string;
  inbox_status: string;
  backfill_status: BackfillStatus;
  backfill_run: number;
  backfill_since: Date | null;
  backfill_until: Date | null;
  backfill_checkpoint: Checkpoint | null;
}

/** Counters of a backfill as inbox_sync_stats holds them; published with progress events. */
export interface SyncCounters {
  threads_queued: number;
  threads_processing: number;
  threads_completed: number;
  threads_failed: number;
  messages_synced: number;
}

export interface ThreadRow {
  id: number;
  config_id: string;
  thread_id: string;
  grant_id: string;
  inbox_id: string;
  status: 'queued' | 'processing' | 'completed' | 'failed';
  /** The thread as discovery listed it (at queued_at); null for rows queued without one. */
  thread: unknown;
  queued_at: Date;
}

const CONFIG_COLUMNS = `c.id, c.inbox_id, i.grant_id, i.status as inbox_status, c.backfill_status, c.backfill_run,
  c.backfill_since, c.backfill_until, c.backfill_checkpoint`;

/** $1 inbox id: the inbox's configuration, created on first use. */
const ENSURE_CONFIG = `
  insert into flux_inbox_configurations (inbox_id) values ($1)
  on conflict (inbox_id) do update set updated_at = flux_inbox_configurations.updated_at
  returning id`;

/** $1 config id. */
const GET_CONFIG = `
  select ${CONFIG_COLUMNS}
  from flux_inbox_configurations c join flux_inboxes i on i.id = c.inbox_id where c.id = $1`;

/**
 * $1 config id, $2 since, $3 until: opens a new run unless one is under way (queued, discovering
 * or syncing threads). Returns the run number, or nothing when busy.
 */
const OPEN_RUN = `
  update flux_inbox_configurations
  set backfill_status = 'pending', backfill_run = backfill_run + 1, backfill_since = $2,
      backfill_until = $3, backfill_started_at = null, backfill_completed_at = null,
      backfill_progress = '{}'::jsonb, backfill_checkpoint = null, backfill_error = null, updated_at = now()
  where id = $1
    and not (backfill_status in ('discovering', 'thread_sync') or (backfill_status = 'pending' and backfill_run > 0))
  returning backfill_run`;

/** $1 config id: a new run starts from an empty thread list and fresh counters. */
const CLEAR_RUN = `
  with t as (delete from queued_threads where config_id = $1)
  delete from inbox_sync_stats where config_id = $1`;

/**
 * $1 config id, $2 run: enters discovery, or resumes it from the checkpoint (after a crash, or a
 * failed run's job retried by hand); returns the configuration.
 */
const BEGIN_DISCOVERY = `
  update flux_inbox_configurations c
  set backfill_status = 'discovering', backfill_started_at = coalesce(c.backfill_started_at, now()),
      backfill_error = null, backfill_completed_at = null, updated_at = now()
  from flux_inboxes i
  where c.id = $1 and c.backfill_run = $2 and c.backfill_status in ('pending', 'discovering', 'failed') and i.id = c.inbox_id
  returning ${CONFIG_COLUMNS}`;

/**
 * $1 config id, $2 grant id, $3 jsonb array of listed threads (wire format): queues the threads
 * not queued for this configuration yet, leaving out those whose every message is stored
 * already. Returns the ids and thread ids of rows inserted.
 */
const QUEUE_THREADS = `
  with listed as (
    select x->>'id' as thread_id, coalesce(x->'message_ids', '[]') as message_ids, x as thread
    from jsonb_array_elements($3::text::jsonb) x
  )
  insert into queued_threads (config_id, grant_id, thread_id, thread)
  select $1, $2, l.thread_id, l.thread from listed l
  where jsonb_array_length(l.message_ids) = 0 or exists (
    select 1 from jsonb_array_elements_text(l.message_ids) mid
    where not exists (select 1 from flux_email_messages m where m.grant_id = $2 and m.nylas_message_id = mid)
  )
  on conflict (config_id, thread_id) do nothing
  returning id, thread_id`;

/** $1 config id, $2 inbox id, $3 threads newly queued, $4 status: adds them to the run's counters. */
const COUNT_QUEUED = `
  insert into inbox_sync_stats as s (config_id, inbox_id, backfill_status, threads_queued)
  values ($1, $2, $4, $3)
  on conflict (config_id) do update
    set threads_queued = s.threads_queued + excluded.threads_queued, backfill_status = excluded.backfill_status, updated_at = now()
  returning threads_queued, threads_processing, threads_completed, threads_failed, messages_synced`;

/** $1 config id, $2 run, $3 checkpoint jsonb, $4 next status: saves discovery's place. */
const SAVE_CHECKPOINT = `
  update flux_inbox_configurations
  set backfill_checkpoint = $3::text::jsonb, backfill_status = $4,
      backfill_progress = backfill_progress || jsonb_build_object('discovery', $3::text::jsonb), updated_at = now()
  where id = $1 and backfill_run = $2 and backfill_status = 'discovering'
  returning id`;

/**
 * $1 config id, $2 run, $3 error: discovery gave up. Its counters row is closed too, so the seed's
 * "Monitor Active Syncs" (sync_completed_at is null) stops listing it.
 */
const FAIL_RUN = `
  with failed as (
    update flux_inbox_configurations
    set backfill_status = 'failed', backfill_error = $3, backfill_completed_at = now(), updated_at = now()
    where id = $1 and backfill_run = $2 and backfill_status in ('pending', 'discovering')
    returning id
  ), closed as (
    update inbox_sync_stats s set backfill_status = 'failed', sync_completed_at = now(), updated_at = now()
    from failed where s.config_id = failed.id
  )
  select id from failed`;

/**
 * $1 jsonb array of {config_id, thread_id}: claims threads for an attempt. Returns those claimed
 * (not completed ones, nor ones gone with a replaced run), with the listed thread. A failed
 * thread is claimed too: its job was retried by hand (dead letters are the only jobs left for
 * failed threads), so it leaves the failed count.
 */
const START_THREADS = `
  with claimed as (
    select q.id, q.config_id, q.status as was from queued_threads q
    join jsonb_to_recordset($1::text::jsonb) as x(config_id uuid, thread_id text)
      on q.config_id = x.config_id and q.thread_id = x.thread_id
    where q.status in ('queued', 'processing', 'failed')
    order by q.id
    for update of q
  ), started as (
    update queued_threads q
    set status = 'processing', attempts = case when c.was = 'failed' then 1 else q.attempts + 1 end, started_at = now()
    from claimed c where q.id = c.id
    returning q.id, q.config_id, q.thread_id, q.grant_id, q.status, q.thread, q.queued_at
  ), revived as (
    update inbox_sync_stats s set threads_failed = greatest(0, s.threads_failed - r.n), updated_at = now()
    from (select config_id, count(*)::int as n from claimed where was = 'failed' group by config_id) r
    where s.config_id = r.config_id
  )
  select st.*, f.inbox_id from started st join flux_inbox_configurations f on f.id = st.config_id`;

/**
 * $1 jsonb array of {id, messages}: the threads are done; counts them in the same statement.
 * Returns, per thread completed, its backfill's counters after the whole batch.
 */
/**
 * COMPLETE_THREADS's CTEs over `param` (a jsonb array of {id, messages}): `done`, `per_config` and
 * `counted`, for a statement that stores a thread sync's messages and completes it at once.
 */
export const completeThreadsCtes = (param: string) => `
  done as (
    update queued_threads q
    set status = 'completed', messages_synced = x.messages, error = null, processed_at = now()
    from jsonb_to_recordset(${param}::text::jsonb) as x(id bigint, messages int)
    where q.id = x.id and q.status = 'processing'
    returning q.id, q.config_id, x.messages
  ), per_config as (
    select config_id, count(*)::int as n, sum(messages)::int as m from done group by config_id
  ), counted as (
    update inbox_sync_stats s
    set threads_completed = s.threads_completed + p.n, messages_synced = s.messages_synced + p.m, updated_at = now()
    from per_config p where s.config_id = p.config_id
    returning s.config_id, s.threads_queued, s.threads_processing, s.threads_completed, s.threads_failed, s.messages_synced
  )`;

/** Each completed thread with its backfill's counters after the batch, from completeThreadsCtes. */
export const COMPLETED_COUNTERS = `
  select done.id, counted.threads_queued, counted.threads_processing, counted.threads_completed,
         counted.threads_failed, counted.messages_synced
  from done join counted on counted.config_id = done.config_id`;

const COMPLETE_THREADS = `
  with ${completeThreadsCtes('$1')}
${COMPLETED_COUNTERS}`;

/** $1 queued thread id, $2 error, $3 final: failed for good (counted), or back to queued for a retry. */
const FAIL_THREAD = `
  with failed as (
    update queued_threads
    set status = case when $3 then 'failed' else 'queued' end, error = $2,
        processed_at = case when $3 then now() end
    where id = $1 and status in ('queued', 'processing')
    returning config_id
  )
  update inbox_sync_stats s
  set threads_failed = s.threads_failed + 1, updated_at = now()
  from failed where $3 and s.config_id = failed.config_id
  returning s.threads_queued, s.threads_processing, s.threads_completed, s.threads_failed, s.messages_synced`;

/** $1 config id, $2 provider thread id, $3 error: marks a pending thread failed for good (onDead). */
const FAIL_THREAD_BY_KEY = `
  with failed as (
    update queued_threads
    set status = 'failed', error = $3, processed_at = now()
    where config_id = $1 and thread_id = $2 and status in ('queued', 'processing')
    returning config_id
  )
  update inbox_sync_stats s
  set threads_failed = s.threads_failed + 1, updated_at = now()
  from failed where s.config_id = failed.config_id
  returning s.threads_queued, s.threads_processing, s.threads_completed, s.threads_failed, s.messages_synced`;

/**
 * Recounts the counters of every backfill under way from queued_threads (the monitor's refresh:
 * right even if a counter update was ever missed). Returns each one's counters and phase.
 */
const REFRESH_STATS = `
  with active as (
    select id, inbox_id, backfill_status from flux_inbox_configurations
    where backfill_status in ('discovering', 'thread_sync')
  ), counts as (
    select a.id as config_id, a.inbox_id, a.backfill_status,
           count(q.id)::int as total,
           (count(q.id) filter (where q.status = 'processing'))::int as processing,
           (count(q.id) filter (where q.status = 'completed'))::int as completed,
           (count(q.id) filter (where q.status = 'failed'))::int as failed,
           (count(q.id) filter (where q.status = 'queued'))::int as queued,
           coalesce(sum(q.messages_synced), 0)::int as messages
    from active a left join queued_threads q on q.config_id = a.id
    group by a.id, a.inbox_id, a.backfill_status
  ), updated as (
    update inbox_sync_stats s
    set threads_queued = c.total, threads_processing = c.processing, threads_completed = c.completed,
        threads_failed = c.failed, messages_synced = c.messages, backfill_status = c.backfill_status, updated_at = now()
    from counts c where s.config_id = c.config_id
  )
  select config_id, backfill_status, total, queued, processing, completed, failed, messages from counts`;

/**
 * The backfills under way as their counters stand (kept by the statements that queue, complete
 * and fail threads), without recounting queued_threads: what the monitor reads between recounts.
 * `processing` is as of the last recount; `queued` is what is neither finished nor processing.
 */
const READ_STATS = `
  select c.id as config_id, c.backfill_status, coalesce(s.threads_queued, 0) as total,
         greatest(0, coalesce(s.threads_queued - s.threads_completed - s.threads_failed - s.threads_processing, 0)) as queued,
         coalesce(s.threads_processing, 0) as processing, coalesce(s.threads_completed, 0) as completed,
         coalesce(s.threads_failed, 0) as failed, coalesce(s.messages_synced, 0) as messages
  from flux_inbox_configurations c left join inbox_sync_stats s on s.config_id = c.id
  where c.backfill_status in ('discovering', 'thread_sync')`;

/** $1 config id: locks a backfill in thread_sync for the completion decision. */
const LOCK_FOR_COMPLETION = `
  select id, backfill_run, inbox_id from flux_inbox_configurations
  where id = $1 and backfill_status = 'thread_sync' for update`;

/** $1 config id: threads not finished yet (the second look, under the lock). */
const PENDING_THREADS = `
  select count(*)::int as pending from queued_threads where config_id = $1 and status in ('queued', 'processing')`;

/** $1 config id: marks the backfill completed. */
const MARK_COMPLETED = `
  update flux_inbox_configurations
  set backfill_status = 'completed', backfill_completed_at = now(), updated_at = now()
  where id = $1 and backfill_status = 'thread_sync'`;

/** $1 config id, $2 inbox id: final counters, created here for a backfill that found nothing to sync. */
const CLOSE_STATS = `
  insert into inbox_sync_stats as s (config_id, inbox_id, backfill_status, sync_completed_at,
    threads_queued, threads_completed, threads_failed, messages_synced)
  select $1, $2, 'completed', now(), count(*), count(*) filter (where status = 'completed'),
         count(*) filter (where status = 'failed'), coalesce(sum(messages_synced), 0)
  from queued_threads where config_id = $1
  on conflict (config_id) do update
    set backfill_status = 'completed', sync_completed_at = now(), threads_processing = 0,
        threads_queued = excluded.threads_queued, threads_completed = excluded.threads_completed,
        threads_failed = excluded.threads_failed, messages_synced = excluded.messages_synced, updated_at = now()
  returning threads_queued, threads_processing, threads_completed, threads_failed, messages_synced`;

/**
 * Premature completions: backfills marked completed while threads are still queued or
 * processing. Reopens them in thread_sync and clears their completion time; returns each with
 * the number of threads that were pending.
 */
const REOPEN_PREMATURE = `
  with premature as (
    select c.id, c.backfill_run, count(q.id)::int as pending
    from flux_inbox_configurations c
    join queued_threads q on q.config_id = c.id and q.status in ('queued', 'processing')
    where c.backfill_status = 'completed'
    group by c.id, c.backfill_run
  ), reopened as (
    update flux_inbox_configurations c
    set backfill_status = 'thread_sync', backfill_completed_at = null, updated_at = now()
    from premature p where c.id = p.id and c.backfill_status = 'completed'
    returning c.id
  ), stats as (
    update inbox_sync_stats s set sync_completed_at = null, backfill_status = 'thread_sync', updated_at = now()
    from reopened r where s.config_id = r.id
  )
  select p.id as config_id, p.backfill_run as run, p.pending from premature p join reopened r on r.id = p.id`;

/** $1 config id, $2 run, $3 event, $4 detail jsonb, $5 actor. */
const RECORD_HISTORY = `
  insert into backfill_history (config_id, run, event, detail, actor) values ($1, $2, $3, $4::text::jsonb, $5)`;

/** $1 config id: the seed's get_sync_progress, one row, with the run number. */
const PROGRESS = `
  select p.*, c.backfill_run as run
  from get_sync_progress($1) p join flux_inbox_configurations c on c.id = p.config_id`;

/** Every backfill that ever ran, newest first, with its inbox. */
const ALL_PROGRESS = `
  select p.*, c.backfill_run as run, i.grant_id, i.email
  from flux_inbox_configurations c
  join flux_inboxes i on i.id = c.inbox_id
  cross join lateral get_sync_progress(c.id) p
  where c.backfill_run > 0
  order by c.backfill_started_at desc nulls first, c.updated_at desc`;

export async function ensureConfiguration(db: Queryable, inboxId: string): Promise<string> {
  const [row] = await db.query<{ id: string }>(ENSURE_CONFIG, [inboxId]);
  return row!.id;
}

export async function getConfiguration(db: Queryable, configId: string): Promise<BackfillConfig | undefined> {
  const [row] = await db.query<BackfillConfig>(GET_CONFIG, [configId]);
  return row;
}

/** Opens a new backfill run with an empty thread list; undefined when one is under way. */
export async function openRun(db: Queryable, configId: string, since: Date, until: Date): Promise<number | undefined> {
  const [row] = await db.query<{ backfill_run: number }>(OPEN_RUN, [configId, since, until]);
  if (!row) return undefined;
  await db.query(CLEAR_RUN, [configId]);
  return row.backfill_run;
}

export async function beginDiscovery(db: Queryable, configId: string, run: number): Promise<BackfillConfig | undefined> {
  const [row] = await db.query<BackfillConfig>(BEGIN_DISCOVERY, [configId, run]);
  return row;
}

/** Queues the listed threads that are new; returns those inserted. */
/** Queues the listed threads that are new (kept without their latest message); returns those inserted. */
export async function queueThreads(
  db: Queryable, configId: string, grantId: string, threads: readonly { id: string; message_ids: string[] }[],
): Promise<{ id: number; thread_id: string }[]> {
  if (threads.length === 0) return [];
  const listed = threads.map(({ latest_draft_or_message: _, ...thread }: { latest_draft_or_message?: unknown; id: string }) => thread);
  return db.query(QUEUE_THREADS, [configId, grantId, JSON.stringify(listed)]);
}

export async function countQueued(db: Queryable, configId: string, inboxId: string, added: number, status: BackfillStatus): Promise<SyncCounters> {
  const [row] = await db.query<SyncCounters>(COUNT_QUEUED, [configId, inboxId, added, status]);
  return row!;
}

/** Saves discovery's checkpoint; false when the run moved on (another holder, or a new run). */
export async function saveCheckpoint(db: Queryable, configId: string, run: number, checkpoint: Checkpoint, next: BackfillStatus): Promise<boolean> {
  return (await db.query(SAVE_CHECKPOINT, [configId, run, JSON.stringify(checkpoint), next])).length > 0;
}

export async function failRun(db: Queryable, configId: string, run: number, error: string): Promise<boolean> {
  return (await db.query(FAIL_RUN, [configId, run, error])).length > 0;
}

/** Claims threads for an attempt; keyed by `configId/threadId`, claimed ones only. */
export async function startThreads(db: Queryable, keys: readonly { configId: string; threadId: string }[]): Promise<Map<string, ThreadRow>> {
  const rows = await db.query<ThreadRow>(START_THREADS, [JSON.stringify(keys.map((k) => ({ config_id: k.configId, thread_id: k.threadId })))]);
  return new Map(rows.map((r) => [`${r.config_id}/${r.thread_id}`, r]));
}

/** Marks threads completed; returns each completed one's backfill counters, by queued thread id. */
export async function completeThreads(db: Queryable, done: readonly { id: number; messages: number }[]): Promise<Map<number, SyncCounters>> {
  const rows = await db.query<SyncCounters & { id: number }>(COMPLETE_THREADS, [JSON.stringify(done)]);
  return new Map(rows.map(({ id, ...counters }) => [id, counters]));
}

export async function failThread(db: Queryable, id: number, error: string, final: boolean): Promise<SyncCounters | undefined> {
  const [row] = await db.query<SyncCounters>(FAIL_THREAD, [id, error, final]);
  return row;
}

/** Marks the pending thread of a backfill failed for good; undefined when it is not pending. */
export async function failThreadByKey(db: Queryable, configId: string, threadId: string, error: string): Promise<SyncCounters | undefined> {
  const [row] = await db.query<SyncCounters>(FAIL_THREAD_BY_KEY, [configId, threadId, error]);
  return row;
}

export interface ActiveBackfill {
  config_id: string;
  backfill_status: BackfillStatus;
  total: number;
  queued: number;
  processing: number;
  completed: number;
  failed: number;
  messages: number;
}

export async function refreshStats(db: Queryable): Promise<ActiveBackfill[]> {
  return db.query<ActiveBackfill>(REFRESH_STATS);
}

/** The backfills under way from their counters (READ_STATS), without a recount. */
export async function readStats(db: Queryable): Promise<ActiveBackfill[]> {
  return db.query<ActiveBackfill>(READ_STATS);
}

/**
 * The double check before completion: under a lock on the configuration, the backfill must be
 * in thread_sync with no thread queued or processing. Returns the final counters when it marked
 * the backfill completed, undefined when it did not.
 */
export async function completeIfDone(tx: Queryable, configId: string, actor: string): Promise<SyncCounters | undefined> {
  const [config] = await tx.query<{ backfill_run: number; inbox_id: string }>(LOCK_FOR_COMPLETION, [configId]);
  if (!config) return undefined;
  const [{ pending } = { pending: 1 }] = await tx.query<{ pending: number }>(PENDING_THREADS, [configId]);
  if (pending > 0) return undefined;
  await tx.query(MARK_COMPLETED, [configId]);
  const [counters] = await tx.query<SyncCounters>(CLOSE_STATS, [configId, config.inbox_id]);
  await recordHistory(tx, configId, config.backfill_run, 'completed', counters ?? {}, actor);
  return counters;
}

export async function reopenPremature(db: Queryable): Promise<{ config_id: string; run: number; pending: number }[]> {
  return db.query(REOPEN_PREMATURE);
}

export async function recordHistory(
  db: Queryable, configId: string, run: number, event: 'started' | 'discovered' | 'completed' | 'failed' | 'recovered',
  detail: object, actor: string,
): Promise<void> {
  await db.query(RECORD_HISTORY, [configId, run, event, JSON.stringify(detail), actor]);
}

export interface SyncProgress {
  config_id: string;
  backfill_status: BackfillStatus;
  backfill_since: Date | null;
  backfill_until: Date | null;
  backfill_started_at: Date | null;
  backfill_completed_at: Date | null;
  threads_total: number;
  threads_queued: number;
  threads_processing: number;
  threads_completed: number;
  threads_failed: number;
  messages_synced: number;
  percent_complete: string;
  backfill_progress: Record<string, unknown>;
  backfill_error: string | null;
  run: number;
}

export async function syncProgress(db: Queryable, configId: string): Promise<SyncProgress | undefined> {
  const [row] = await db.query<SyncProgress>(PROGRESS, [configId]);
  return row;
}

export async function allProgress(db: Queryable): Promise<(SyncProgress & { grant_id: string; email: string | null })[]> {
  return db.query(ALL_PROGRESS);
}

/**
 * Every run of every backfill (or of one configuration, $1), newest first, at most $2. A run is
 * rebuilt from its backfill_history events: the window from `started`, what discovery listed and
 * skipped from `discovered`, the final counters from the last `completed`, the error from
 * `failed`. The configuration's current run reads its live state instead (status, checkpoint,
 * inbox_sync_stats), and is listed even without events (a run the seed finished before adoption).
 */
const RUNS = `
  with h as (
    select config_id, run,
      min(at) filter (where event = 'started') as started_at,
      (array_agg(detail order by id) filter (where event = 'started'))[1] as run_window,
      (array_agg(detail order by id desc) filter (where event = 'discovered'))[1] as discovery,
      (array_agg(detail order by id desc) filter (where event = 'completed'))[1] as counters,
      (array_agg(event order by id desc) filter (where event in ('completed', 'failed', 'recovered')))[1] as outcome,
      (array_agg(at order by id desc) filter (where event in ('completed', 'failed', 'recovered')))[1] as ended_at,
      (array_agg(detail ->> 'error' order by id desc) filter (where event = 'failed'))[1] as error
    from backfill_history
    where $1::uuid is null or config_id = $1
    group by config_id, run
  ), keys as (
    select config_id, run from h
    union
    select id, backfill_run from flux_inbox_configurations where backfill_run > 0 and ($1::uuid is null or id = $1)
  ), run_list as (
    select k.config_id, k.run, c.inbox_id, i.grant_id, i.email, k.run = c.backfill_run as current,
      case when k.run = c.backfill_run then c.backfill_status
           when h.outcome in ('completed', 'failed') then h.outcome else 'unknown' end as status,
      case when k.run = c.backfill_run then c.backfill_since else (h.run_window ->> 'since')::timestamptz end as since,
      case when k.run = c.backfill_run then c.backfill_until else (h.run_window ->> 'until')::timestamptz end as until,
      coalesce(h.started_at, case when k.run = c.backfill_run then c.backfill_started_at end) as started_at,
      case when k.run = c.backfill_run then c.backfill_completed_at
           when h.outcome in ('completed', 'failed') then h.ended_at end as ended_at,
      case when k.run = c.backfill_run then coalesce(c.backfill_checkpoint, h.discovery) else h.discovery end as discovery,
      case when k.run = c.backfill_run
           then jsonb_build_object('threads_queued', coalesce(s.threads_queued, 0), 'threads_completed', coalesce(s.threads_completed, 0),
                                   'threads_failed', coalesce(s.threads_failed, 0), 'messages_synced', coalesce(s.messages_synced, 0))
           else h.counters end as counters,
      case when k.run = c.backfill_run then c.backfill_error else h.error end as error
    from keys k
    join flux_inbox_configurations c on c.id = k.config_id
    join flux_inboxes i on i.id = c.inbox_id
    left join h on h.config_id = k.config_id and h.run = k.run
    left join inbox_sync_stats s on s.config_id = k.config_id and k.run = c.backfill_run
  )
  select config_id, run, inbox_id, grant_id, email, current, status, since, until, started_at, ended_at, error,
    (discovery ->> 'listed')::int as threads_listed,
    (discovery ->> 'skipped')::int as threads_already_synced,
    (discovery ->> 'skippedMessages')::int as messages_already_synced,
    (counters ->> 'threads_queued')::int as threads_total,
    (counters ->> 'threads_completed')::int as threads_completed,
    (counters ->> 'threads_failed')::int as threads_failed,
    (counters ->> 'messages_synced')::int as messages_synced
  from run_list
  order by started_at desc nulls first, run desc
  limit $2`;

export interface BackfillRun {
  config_id: string;
  run: number;
  inbox_id: string;
  grant_id: string;
  email: string | null;
  current: boolean;
  status: BackfillStatus | 'unknown';
  since: Date | null;
  until: Date | null;
  started_at: Date | null;
  ended_at: Date | null;
  error: string | null;
  /** Null where the run has no record of it (discovery never finished, or before it was kept). */
  threads_listed: number | null;
  threads_already_synced: number | null;
  messages_already_synced: number | null;
  threads_total: number | null;
  threads_completed: number | null;
  threads_failed: number | null;
  messages_synced: number | null;
}

export async function listRuns(db: Queryable, configId: string | null, limit: number): Promise<BackfillRun[]> {
  return db.query<BackfillRun>(RUNS, [configId, limit]);
}

/** $1 config id, $2 limit: the current run's threads that failed for good, newest first. */
const FAILED_THREADS = `
  select thread_id, thread ->> 'subject' as subject, error, attempts, processed_at as failed_at
  from queued_threads where config_id = $1 and status = 'failed'
  order by processed_at desc nulls last, id
  limit $2`;

export interface FailedThread {
  thread_id: string;
  subject: string | null;
  error: string | null;
  attempts: number;
  failed_at: Date | null;
}

export async function failedThreads(db: Queryable, configId: string, limit: number): Promise<FailedThread[]> {
  return db.query<FailedThread>(FAILED_THREADS, [configId, limit]);
}

/**
 * $1 config id: reopens a completed run whose threads partly failed ("retry failed"): its failed
 * threads are queued again (their attempts start over), the run goes back to thread_sync and its
 * counters row is open again, so the completion monitor completes it once they are done. Locks
 * the configuration; returns its run, status and the threads queued again (none when the run
 * is not completed or had no failed thread: nothing changes then).
 */
const REOPEN_FAILED = `
  with cfg as (
    select id, backfill_run, backfill_status from flux_inbox_configurations where id = $1 for update
  ), retried as (
    update queued_threads q set status = 'queued', attempts = 0, processed_at = null
    from cfg where q.config_id = cfg.id and cfg.backfill_status = 'completed' and q.status = 'failed'
    returning q.thread_id
  ), reopened as (
    update flux_inbox_configurations c
    set backfill_status = 'thread_sync', backfill_completed_at = null, updated_at = now()
    from cfg where c.id = cfg.id and exists (select 1 from retried)
  ), stats as (
    update inbox_sync_stats s
    set threads_failed = greatest(0, s.threads_failed - (select count(*) from retried)::int),
        backfill_status = 'thread_sync', sync_completed_at = null, updated_at = now()
    from cfg where s.config_id = cfg.id and exists (select 1 from retried)
  )
  select cfg.backfill_run as run, cfg.backfill_status as status,
         coalesce((select array_agg(thread_id order by thread_id) from retried), '{}') as threads
  from cfg`;

export async function reopenFailed(
  tx: Queryable, configId: string,
): Promise<{ run: number; status: BackfillStatus; threads: string[] } | undefined> {
  const [row] = await tx.query<{ run: number; status: BackfillStatus; threads: string[] }>(REOPEN_FAILED, [configId]);
  return row;
}
