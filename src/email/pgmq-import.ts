import type { Queryable } from '../storage/index.ts';

/**
 * Moves the messages waiting in the seed's PGMQ queues (tables `pgmq.q_<queue>`, as the PGMQ
 * extension lays them out) into Nova's queues of the same names, exactly once: each message is
 * deleted from PGMQ and queued in Nova in the same statement, inside the caller's transaction.
 * Payloads in the seed's shapes become Nova's; dedup keys match those `nova migrate` gives the
 * work it resumes, so a message for work already queued is not queued twice. PGMQ's archive
 * tables (`pgmq.a_<queue>`) are history and stay where they are. A message for a webhook row
 * that has its outcome already is dropped: it was processed and not yet deleted.
 */

/**
 * The seed's queues and, for each, the statement that moves its messages. The table name is
 * part of the text: identifiers cannot be bound, and these come from this fixed list only.
 */
const MOVES: Record<string, string> = {
  // Nova's job, a reference to an audit row (by its id or the envelope id), or a raw envelope.
  nylas_webhook_notifications: `
    with moved as (delete from pgmq.q_nylas_webhook_notifications returning message as m),
    mapped as (
      select m, n.id as row_id, n.status as row_status from moved
      left join lateral (
        select n.id, n.status from flux_webhook_notifications n
        where n.id::text = coalesce(m ->> 'notificationId', m ->> 'notification_id', m ->> 'id')
           or n.notification_id = coalesce(m ->> 'notification_id', m ->> 'id')
        limit 1
      ) n on true
    )
    -- A message whose audit row has its outcome already is stale (processed, not yet deleted).
    select count(case
      when row_id is not null and row_status not in ('pending', 'processing') then null
      when row_id is not null then nova_enqueue('nylas_webhook_notifications', jsonb_build_object('notificationId', row_id), 'notification:' || row_id)
      when m ? 'type' and m ? 'data' then nova_enqueue('nylas_webhook_notifications', m, 'envelope:' || (m ->> 'id'))
      when m -> 'payload' ? 'type' then nova_enqueue('nylas_webhook_notifications', m -> 'payload', 'envelope:' || (m -> 'payload' ->> 'id'))
      else nova_enqueue('nylas_webhook_notifications', m)
    end)::int as n from mapped`,
  // {config_id, ...} or {configId, run}: the discovery of the configuration's current run. A
  // backfill the seed queued but never started (run 0 here) becomes run 1, over the last year.
  inbox_backfill_jobs: `
    with moved as (delete from pgmq.q_inbox_backfill_jobs returning message as m),
    opened as (
      update flux_inbox_configurations c
      set backfill_run = 1, backfill_status = 'pending', backfill_until = coalesce(c.backfill_until, now()),
          backfill_since = coalesce(c.backfill_since, coalesce(c.backfill_until, now()) - interval '365 days')
      from (select distinct coalesce(m ->> 'configId', m ->> 'config_id') as id from moved) w
      where c.id::text = w.id and c.backfill_run = 0 and c.backfill_status = 'pending'
      returning c.id, c.backfill_run
    ),
    mapped as (
      select m, c.id as config_id, coalesce(o.backfill_run, c.backfill_run) as run from moved
      left join flux_inbox_configurations c on c.id::text = coalesce(m ->> 'configId', m ->> 'config_id')
      left join opened o on o.id = c.id
    )
    select count(case
      when config_id is not null and run > 0 then nova_enqueue('inbox_backfill_jobs', jsonb_build_object('configId', config_id, 'run', run),
                                                               config_id || ':run:' || run, config_id::text)
      else nova_enqueue('inbox_backfill_jobs', m)
    end)::int as n from mapped`,
  // {config_id, thread_id, ...} or {configId, threadId}.
  thread_sync_jobs: `
    with moved as (delete from pgmq.q_thread_sync_jobs returning message as m),
    mapped as (
      select m, coalesce(m ->> 'configId', m ->> 'config_id') as config_id, coalesce(m ->> 'threadId', m ->> 'thread_id') as thread_id from moved
    )
    select count(case
      when config_id is not null and thread_id is not null then nova_enqueue('thread_sync_jobs',
        jsonb_build_object('configId', config_id, 'threadId', thread_id), config_id || ':' || thread_id, config_id)
      else nova_enqueue('thread_sync_jobs', m)
    end)::int as n from mapped`,
};

/** Moves waiting PGMQ messages into Nova's queues; returns how many per queue (queues absent are left out). */
export async function importPgmq(tx: Queryable): Promise<Record<string, number>> {
  const moved: Record<string, number> = {};
  for (const [queue, statement] of Object.entries(MOVES)) {
    const [exists] = await tx.query<{ found: boolean }>(`select to_regclass($1) is not null as found`, [`pgmq.q_${queue}`]);
    if (!exists?.found) continue;
    const [row] = await tx.query<{ n: number }>(statement);
    moved[queue] = row?.n ?? 0;
  }
  return moved;
}
