import type { QueueClient } from '../queue/queue.ts';
import type { Queryable } from '../storage/index.ts';
import type { WebhookEnvelope } from './nylas/wire.ts';

/** The webhook audit log, flux_webhook_notifications: every statement on it lives here. */

export type NotificationStatus = 'pending' | 'processing' | 'processed' | 'error' | 'ignored';

export interface NotificationRow {
  id: string;
  notification_id: string;
  notification_type: string;
  payload: WebhookEnvelope;
  attempts: number;
  received_at: Date;
}

/**
 * $1 jsonb array of {notification_id, type, grant_id, payload, time, attempt}: records deliveries,
 * skipping envelope ids already recorded (redeliveries). Returns the rows inserted.
 */
const RECORD = `
  insert into flux_webhook_notifications (notification_id, notification_type, grant_id, payload,
                                          webhook_time, delivery_attempt)
  select x->>'notification_id', x->>'type', x->>'grant_id', x->'payload',
         to_timestamp((x->>'time')::float8), (x->>'attempt')::int
  from jsonb_array_elements($1::text::jsonb) x
  on conflict (notification_id) where notification_id is not null do nothing
  returning id, notification_id`;

/**
 * $1 as RECORD, $2 queue: records deliveries and queues a job for each new one, in one statement
 * (`enqueue` is the queue module's CTE over `recorded`). Returns the new audit rows and the ids
 * of the jobs queued.
 */
const recordAndEnqueue = (enqueue: string) => `
  with recorded as (${RECORD}), ${enqueue}
  select id, notification_id, (select coalesce(array_agg(id), '{}') from enqueued) as job_ids from recorded`;

/** $1 raw body, $2 error, $3 notification id (if it could be read): a delivery that could not be accepted. */
const RECORD_REJECTED = `
  insert into flux_webhook_notifications (notification_id, status, raw_body, error_message, processed_at)
  values ($3, 'error', $1, $2, now())
  on conflict (notification_id) where notification_id is not null do nothing`;

/** $1 id: claims the row for an attempt. */
const START = `
  update flux_webhook_notifications set status = 'processing', attempts = attempts + 1
  where id = $1
  returning id, notification_id, notification_type, payload, attempts, received_at`;

/** $1 id, $2 status, $3 error or reason, $4 duration ms of this attempt. */
const FINISH = `
  update flux_webhook_notifications
  set status = $2, error_message = $3, processing_duration_ms = $4,
      processed_at = case when $2 = 'pending' then null else now() end
  where id = $1`;

/** $1 uuid[]: START for many rows at once (the rows found are returned, in no particular order). */
const START_MANY = `
  update flux_webhook_notifications set status = 'processing', attempts = attempts + 1
  where id = any($1::uuid[])
  returning id, notification_id, notification_type, payload, attempts, received_at`;

/** $1 jsonb array of {id, status, error, ms}: FINISH for many rows at once. */
const FINISH_MANY = `
  update flux_webhook_notifications n
  set status = x.status, error_message = x.error, processing_duration_ms = x.ms,
      processed_at = case when x.status = 'pending' then null else now() end
  from jsonb_to_recordset($1::text::jsonb) as x(id uuid, status text, error text, ms int)
  where n.id = x.id`;

export interface AttemptOutcome {
  id: string;
  status: NotificationStatus;
  message: string | null;
  durationMs: number;
}

/** Records accepted deliveries; returns the audit ids of new ones (redeliveries left out), keyed by envelope id. */
/**
 * Records deliveries and queues each new one on `queueName` (payload {notificationId}) in one
 * statement: atomic without a transaction, and one round trip. Returns the envelope ids
 * recorded (redeliveries left out) and the ids of the jobs queued.
 */
export async function recordAndQueue(
  db: Queryable, queue: QueueClient, queueName: string, deliveries: readonly WebhookEnvelope[],
): Promise<{ recorded: Set<string>; jobIds: number[] }> {
  const sql = recordAndEnqueue(queue.enqueueFromSql('recorded', `jsonb_build_object('notificationId', recorded.id)`, '$2'));
  const rows = await db.query<{ id: string; notification_id: string; job_ids: number[] }>(sql, [deliveryRows(deliveries), queueName]);
  return { recorded: new Set(rows.map((r) => r.notification_id)), jobIds: rows[0]?.job_ids ?? [] };
}

function deliveryRows(deliveries: readonly WebhookEnvelope[]): string {
  return JSON.stringify(deliveries.map((e) => ({
    notification_id: e.id,
    type: e.type,
    grant_id: grantOf(e),
    payload: e,
    time: e.time,
    attempt: e.webhook_delivery_attempt,
  })));
}

export async function recordRejected(db: Queryable, rawBody: string, error: string, notificationId?: string): Promise<void> {
  await db.query(RECORD_REJECTED, [rawBody, error, notificationId ?? null]);
}

export async function startAttempt(db: Queryable, id: string): Promise<NotificationRow | undefined> {
  const [row] = await db.query<NotificationRow>(START, [id]);
  return row;
}

export async function finishAttempt(db: Queryable, id: string, status: NotificationStatus, message: string | null, durationMs: number): Promise<void> {
  await db.query(FINISH, [id, status, message, Math.round(durationMs)]);
}

/** startAttempt for many rows in one statement; one entry per id, undefined where the row is gone. */
export async function startAttempts(db: Queryable, ids: readonly string[]): Promise<(NotificationRow | undefined)[]> {
  // Sorted, so two processes starting overlapping sets (a lease that lapsed) lock rows in one order.
  const rows = await db.query<NotificationRow>(START_MANY, [[...new Set(ids)].sort()]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id));
}

/** finishAttempt for many rows in one statement. */
export async function finishAttempts(db: Queryable, outcomes: readonly AttemptOutcome[]): Promise<void> {
  const rows = outcomes
    .map((o) => ({ id: o.id, status: o.status, error: o.message, ms: Math.round(o.durationMs) }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  await db.query(FINISH_MANY, [JSON.stringify(rows)]);
}

/** The grant a notification concerns, wherever its type keeps it. */
function grantOf(e: WebhookEnvelope): string | null {
  const object = e.data.object as { grant_id?: unknown } | null | undefined;
  return typeof object?.grant_id === 'string' ? object.grant_id : null;
}

// A raw envelope sent by SQL.

/**
 * A raw Nylas envelope sent straight to the `nylas_webhook_notifications` queue (seed 001's
 * producers call `flux_pgmq_send('nylas_webhook_notifications', <envelope>)`): it gets its audit
 * row here, so it is processed and accounted for like a delivery through the intake.
 *
 * The row is written as `processing`, not `pending`: the insert trigger of migration 0009 queues
 * pending rows, and this job is already the one that processes it.
 */

/**
 * $1 envelope id, $2 type, $3 grant id, $4 envelope jsonb: records the envelope unless its id is
 * recorded already. Returns the row and whether it is new.
 */
const RECORD_RAW = `
  with ins as (
    insert into flux_webhook_notifications (notification_id, notification_type, grant_id, payload, status,
                                            webhook_time, delivery_attempt)
    values ($1, $2, $3, $4::text::jsonb, 'processing', to_timestamp(($4::text::jsonb ->> 'time')::float8),
            ($4::text::jsonb ->> 'webhook_delivery_attempt')::int)
    on conflict (notification_id) where notification_id is not null do nothing
    returning id, status
  )
  select id, status, true as fresh from ins
  union all
  select id, status, false from flux_webhook_notifications where notification_id = $1 and not exists (select 1 from ins)`;

/**
 * The audit row id a raw envelope is processed under, or undefined when the envelope was
 * recorded before and already has an outcome (a redelivery: processed once only). A row recorded
 * before and still pending or processing is this job's own earlier attempt (or, rarely, a
 * concurrent copy: processing converges, writes being versioned).
 */
export async function recordRawEnvelope(db: Queryable, envelope: WebhookEnvelope): Promise<string | undefined> {
  const object = envelope.data.object as { grant_id?: unknown } | null | undefined;
  const grant = typeof object?.grant_id === 'string' ? object.grant_id : null;
  const [row] = await db.query<{ id: string; status: string; fresh: boolean }>(RECORD_RAW, [envelope.id, envelope.type, grant, JSON.stringify(envelope)]);
  if (!row) return undefined;
  return row.fresh || row.status === 'pending' || row.status === 'processing' ? row.id : undefined;
}
