import type { Queryable } from '../storage/index.ts';
import type { WebhookEnvelope } from './nylas/wire.ts';

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
