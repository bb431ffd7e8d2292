/**
 * Every SQL statement on the `notify` schema's notification tables (the original's
 * ent_notification*, plus Nova's deliveries and pollers' cursors). Subscribers, preferences and
 * the inbox are in subscribers-store.ts and inbox-store.ts.
 */
import type { Queryable } from '../storage/index.ts';

export const CHANNELS = ['IN_APP', 'EMAIL', 'SMS', 'CHAT', 'PUSH'] as const;
export type ChannelType = (typeof CHANNELS)[number];
export const STATUSES = ['PENDING', 'PROCESSING', 'SENT', 'FAILED', 'RETRACTED'] as const;
export type NotificationStatus = (typeof STATUSES)[number];
export type PublishStatus = 'NONE' | 'DRAFT' | 'DISCARD' | 'PUBLISH' | 'DELETED' | 'REVIEW';

export interface NotificationRow {
  id: number;
  name: string;
  description: string | null;
  publish_status: PublishStatus;
  enterprise_id: string | null;
  business_id: string | null;
  notification_workflow_id: number | null;
  notification_rule_id: number | null;
  notification_status: NotificationStatus;
  payload: Record<string, unknown>;
  recipients: string[];
  channels: ChannelType[] | null;
  overrides: Record<string, unknown> | null;
  tags: string[] | null;
  transaction_id: string | null;
  scheduled_for: Date | null;
  processed_at: Date | null;
  retracted_at: Date | null;
  retraction_reason: string | null;
  error_details: unknown;
  workflow_version: number | null;
  dispatch_count: number;
  run_id: string | null;
  created_at: Date;
  updated_at: Date;
}

// Arrays of enums and uuids come back as text[] so both drivers parse them the same way.
const N = `id, name, description, publish_status::text as publish_status, enterprise_id::text as enterprise_id,
  business_id::text as business_id, notification_workflow_id, notification_rule_id,
  notification_status::text as notification_status, payload, recipients::text[] as recipients, channels::text[] as channels,
  overrides, tags, transaction_id, scheduled_for, processed_at, retracted_at, retraction_reason, error_details,
  workflow_version, dispatch_count, run_id::text as run_id, created_at, updated_at`;

export interface NewNotification {
  name: string;
  description?: string | null;
  enterpriseId?: string | null;
  businessId?: string | null;
  workflowId: number | null;
  ruleId?: number | null;
  payload: Record<string, unknown>;
  recipients: string[];
  channels?: ChannelType[] | null;
  overrides?: Record<string, unknown> | null;
  tags?: string[] | null;
  transactionId?: string | null;
  scheduledFor?: Date | null;
  publishStatus?: PublishStatus;
}

/**
 * Inserts a PENDING notification (the trigger queues its dispatch in the same statement). With a
 * transaction id already used by the tenant, returns that row and `created: false`.
 */
export async function insertNotification(db: Queryable, n: NewNotification): Promise<{ row: NotificationRow; created: boolean }> {
  const [row] = await db.query<NotificationRow>(
    `insert into notify.ent_notification (name, description, enterprise_id, business_id, notification_workflow_id, notification_rule_id,
       payload, recipients, channels, overrides, tags, transaction_id, scheduled_for, publish_status, notification_status)
     values ($1, $2, $3::uuid, $4::uuid, $5, $6, $7::text::jsonb, $8::uuid[],
       coalesce($9::text[], array['IN_APP'])::notify.notification_channel_type[], $10::text::jsonb, $11::text[], $12, $13,
       $14::notify.publish_status, 'PENDING')
     on conflict (coalesce(enterprise_id, '00000000-0000-0000-0000-000000000000'::uuid), transaction_id) where transaction_id is not null do nothing
     returning ${N}`,
    [
      n.name, n.description ?? null, n.enterpriseId ?? null, n.businessId ?? null, n.workflowId, n.ruleId ?? null,
      JSON.stringify(n.payload), n.recipients, n.channels ?? null, n.overrides ? JSON.stringify(n.overrides) : null, n.tags ?? null,
      n.transactionId ?? null, n.scheduledFor ?? null, n.publishStatus ?? 'PUBLISH',
    ],
  );
  if (row) return { row, created: true };
  const [existing] = await db.query<NotificationRow>(
    `select ${N} from notify.ent_notification
     where transaction_id = $1 and enterprise_id is not distinct from $2::uuid`,
    [n.transactionId, n.enterpriseId ?? null],
  );
  return { row: existing!, created: false };
}

export async function getNotification(db: Queryable, id: number, enterpriseId?: string | null): Promise<NotificationRow | undefined> {
  const [row] = await db.query<NotificationRow>(
    `select ${N} from notify.ent_notification where id = $1 and ($2::uuid is null or enterprise_id = $2::uuid)`,
    [id, enterpriseId ?? null],
  );
  return row;
}

export async function listNotifications(db: Queryable, f: { status?: NotificationStatus; enterpriseId?: string; beforeId?: number; limit: number }): Promise<NotificationRow[]> {
  return db.query<NotificationRow>(
    `select ${N} from notify.ent_notification
     where ($1::text is null or notification_status::text = $1) and ($2::uuid is null or enterprise_id = $2::uuid)
       and ($3::bigint is null or id < $3)
     order by id desc limit $4`,
    [f.status ?? null, f.enterpriseId ?? null, f.beforeId ?? null, f.limit],
  );
}

/**
 * A FAILED row that may be dispatched again (SQL over ent_notification, the parameters named):
 * dispatches left under `max`, a failure another try may fix (`error_details.retryable` not
 * false), and its backoff of `baseMs` × 2^(dispatches-1) passed.
 */
const failedDue = (max: string, baseMs: string) => `(notification_status = 'FAILED' and dispatch_count < ${max}
  and coalesce((error_details->>'retryable')::boolean, true)
  and updated_at <= now() - make_interval(secs => ${baseMs}::double precision * power(2, greatest(dispatch_count - 1, 0)) / 1000.0))`;

/**
 * Hands a due notification to delivery: PENDING, or FAILED as `failedDue` allows, becomes
 * PROCESSING and its dispatch count goes up by one. Returns the dispatch number, or for a row
 * already PROCESSING its current one (the caller's run start is idempotent on it). Undefined when
 * the row is not due, not published, retracted, finished, or out of dispatches.
 */
export async function claimForDispatch(db: Queryable, id: number, maxDispatches: number, backoffBaseMs: number): Promise<{ dispatch: number; claimed: boolean } | undefined> {
  const [claimed] = await db.query<{ dispatch_count: number }>(
    `update notify.ent_notification
     set notification_status = 'PROCESSING', dispatch_count = dispatch_count + 1, updated_at = now()
     where id = $1 and publish_status = 'PUBLISH' and not deactivated
       and (notification_status = 'PENDING' or ${failedDue('$2', '$3')})
       and (scheduled_for is null or scheduled_for <= now())
     returning dispatch_count`,
    [id, maxDispatches, backoffBaseMs],
  );
  if (claimed) return { dispatch: claimed.dispatch_count, claimed: true };
  const [row] = await db.query<{ dispatch_count: number }>(
    `select dispatch_count from notify.ent_notification where id = $1 and notification_status = 'PROCESSING'`,
    [id],
  );
  return row ? { dispatch: row.dispatch_count, claimed: false } : undefined;
}

export async function setRun(db: Queryable, id: number, runId: string): Promise<void> {
  await db.query(`update notify.ent_notification set run_id = $2::uuid where id = $1 and run_id is distinct from $2::uuid`, [id, runId]);
}

/** Ends a dispatch: SENT or FAILED, only while the row is still PROCESSING (a retraction wins). */
export async function finishNotification(db: Queryable, id: number, status: 'SENT' | 'FAILED', details: unknown): Promise<boolean> {
  const rows = await db.query(
    `update notify.ent_notification
     set notification_status = $2::notify.notification_status, processed_at = now(), updated_at = now(), error_details = $3::text::jsonb
     where id = $1 and notification_status = 'PROCESSING' returning id`,
    [id, status, JSON.stringify(details)],
  );
  return rows.length > 0;
}

/** Retracts a notification in any status but RETRACTED; returns the status it had, or undefined. */
export async function retractNotification(db: Queryable, id: number, reason: string | null, enterpriseId?: string | null): Promise<NotificationStatus | undefined> {
  const [row] = await db.query<{ previous: NotificationStatus }>(
    `update notify.ent_notification n
     set notification_status = 'RETRACTED', retracted_at = now(), retraction_reason = $2, updated_at = now()
     from (select id, notification_status::text as previous from notify.ent_notification where id = $1 for update) p
     where n.id = p.id and n.notification_status <> 'RETRACTED' and ($3::uuid is null or n.enterprise_id = $3::uuid)
     returning p.previous`,
    [id, reason, enterpriseId ?? null],
  );
  return row?.previous;
}

/**
 * Sends a FAILED notification again: it becomes PENDING (the wake trigger queues its dispatch),
 * with one more dispatch whatever NOTIFY_MAX_DISPATCHES allows; deliveries already SENT are not
 * repeated. Returns false when there is no FAILED notification `id` (of that enterprise).
 */
export async function resendNotification(db: Queryable, id: number, enterpriseId?: string | null): Promise<boolean> {
  const rows = await db.query(
    `update notify.ent_notification set notification_status = 'PENDING', updated_at = now()
     where id = $1 and notification_status = 'FAILED' and ($2::uuid is null or enterprise_id = $2::uuid)
     returning id`,
    [id, enterpriseId ?? null],
  );
  return rows.length > 0;
}

export async function statusOf(db: Queryable, id: number): Promise<NotificationStatus | undefined> {
  const [row] = await db.query<{ s: NotificationStatus }>(`select notification_status::text as s from notify.ent_notification where id = $1`, [id]);
  return row?.s;
}

// ---- workflows and templates ----

export interface WorkflowRow {
  id: number;
  name: string;
  workflow_key: string;
  workflow_type: 'STATIC' | 'DYNAMIC';
  publish_status: PublishStatus;
  deactivated: boolean;
  enterprise_id: string | null;
  default_channels: ChannelType[] | null;
  template_overrides: Partial<Record<ChannelType, string>> | null;
  critical: boolean;
  digest: { windowMs?: number; maxEvents?: number } | null;
  throttle: { limit: number; windowMs: number } | null;
  forward_to_novu: boolean;
}

const W = `id, name, workflow_key, workflow_type::text as workflow_type, publish_status::text as publish_status, deactivated,
  enterprise_id::text as enterprise_id, default_channels::text[] as default_channels, template_overrides, critical, digest, throttle, forward_to_novu`;

export interface WorkflowInput {
  key: string;
  name?: string;
  enterpriseId?: string | null;
  type?: 'STATIC' | 'DYNAMIC';
  defaultChannels?: ChannelType[];
  templates?: Partial<Record<ChannelType, string>>;
  critical?: boolean;
  digest?: { windowMs?: number; maxEvents?: number } | null;
  throttle?: { limit: number; windowMs: number } | null;
  forwardToNovu?: boolean;
  publishStatus?: PublishStatus;
}

/** Creates or updates a workflow by its key (as the original's `xnovu sync` did). */
export async function upsertWorkflow(db: Queryable, w: WorkflowInput): Promise<WorkflowRow> {
  const [row] = await db.query<WorkflowRow>(
    `insert into notify.ent_notification_workflow (name, workflow_key, enterprise_id, workflow_type, default_channels, template_overrides,
       critical, digest, throttle, forward_to_novu, publish_status)
     values ($1, $2, $3::uuid, $4::notify.notification_workflow_type, $5::text[]::notify.notification_channel_type[], $6::text::jsonb,
       $7, $8::text::jsonb, $9::text::jsonb, $10, $11::notify.publish_status)
     on conflict (workflow_key) do update set name = excluded.name, workflow_type = excluded.workflow_type,
       default_channels = excluded.default_channels, template_overrides = excluded.template_overrides, critical = excluded.critical,
       digest = excluded.digest, throttle = excluded.throttle, forward_to_novu = excluded.forward_to_novu,
       publish_status = excluded.publish_status, updated_at = now()
     returning ${W}`,
    [
      w.name ?? w.key, w.key, w.enterpriseId ?? null, w.type ?? 'STATIC', w.defaultChannels ?? ['IN_APP'], JSON.stringify(w.templates ?? {}),
      w.critical ?? false, w.digest ? JSON.stringify(w.digest) : null, w.throttle ? JSON.stringify(w.throttle) : null,
      w.forwardToNovu ?? false, w.publishStatus ?? 'PUBLISH',
    ],
  );
  return row!;
}

export async function workflowByKey(db: Queryable, key: string): Promise<WorkflowRow | undefined> {
  const [row] = await db.query<WorkflowRow>(`select ${W} from notify.ent_notification_workflow where workflow_key = $1`, [key]);
  return row;
}

export async function workflowById(db: Queryable, id: number): Promise<WorkflowRow | undefined> {
  const [row] = await db.query<WorkflowRow>(`select ${W} from notify.ent_notification_workflow where id = $1`, [id]);
  return row;
}

export async function listWorkflows(db: Queryable): Promise<WorkflowRow[]> {
  return db.query<WorkflowRow>(`select ${W} from notify.ent_notification_workflow order by id`);
}

export interface TemplateRow {
  id: number;
  template_key: string;
  channel_type: ChannelType;
  subject_template: string | null;
  body_template: string;
  /** Liquid for the action link (in-app, push); null: none. */
  action_template: string | null;
  enterprise_id: string | null;
}

export async function upsertTemplate(
  db: Queryable,
  t: { key: string; channel: ChannelType; subject?: string | null; body: string; action?: string | null; name?: string; enterpriseId?: string | null },
): Promise<TemplateRow> {
  const [row] = await db.query<TemplateRow>(
    `insert into notify.ent_notification_template (name, template_key, channel_type, subject_template, body_template, action_template, enterprise_id, publish_status)
     values ($1, $2, $3::notify.notification_channel_type, $4, $5, $6, $7::uuid, 'PUBLISH')
     on conflict (template_key) do update set channel_type = excluded.channel_type, subject_template = excluded.subject_template,
       body_template = excluded.body_template, action_template = excluded.action_template, updated_at = now()
     returning id, template_key, channel_type::text as channel_type, subject_template, body_template, action_template, enterprise_id::text as enterprise_id`,
    [t.name ?? t.key, t.key, t.channel, t.subject ?? null, t.body, t.action ?? null, t.enterpriseId ?? null],
  );
  return row!;
}

/** Published, active templates by key, for the tenant or global ones (enterprise_id null). */
export async function templatesByKey(db: Queryable, keys: string[], enterpriseId: string | null): Promise<TemplateRow[]> {
  if (keys.length === 0) return [];
  return db.query<TemplateRow>(
    `select id, template_key, channel_type::text as channel_type, subject_template, body_template, action_template, enterprise_id::text as enterprise_id
     from notify.ent_notification_template
     where template_key = any($1::text[]) and publish_status = 'PUBLISH' and not deactivated
       and (enterprise_id is null or enterprise_id = $2::uuid)`,
    [keys, enterpriseId],
  );
}

// ---- deliveries (recipient × channel) ----

export type DeliveryStatus = 'PENDING' | 'SENT' | 'FAILED' | 'SKIPPED' | 'DIGESTED';

export interface DeliveryRow {
  id: number;
  notification_id: number;
  recipient: string;
  channel_type: ChannelType;
  status: DeliveryStatus;
  attempts: number;
  provider: string | null;
  provider_message_id: string | null;
  content: unknown;
  error: string | null;
  updated_at: Date;
}

const D = `id, notification_id, recipient::text as recipient, channel_type::text as channel_type, status, attempts, provider,
  provider_message_id, content, error, updated_at`;

/** The delivery rows of a dispatch, created PENDING; rows of an earlier dispatch keep their status. */
export async function openDeliveries(db: Queryable, notificationId: number, enterpriseId: string | null, pairs: { recipient: string; channel: ChannelType }[]): Promise<DeliveryRow[]> {
  await db.query(
    `insert into notify.ent_notification_delivery (notification_id, enterprise_id, recipient, channel_type, status)
     select $1, $2::uuid, p.r::uuid, p.c::notify.notification_channel_type, 'PENDING'
     from jsonb_to_recordset($3::text::jsonb) as p(r text, c text)
     on conflict (notification_id, recipient, channel_type) do nothing`,
    [notificationId, enterpriseId, JSON.stringify(pairs.map((p) => ({ r: p.recipient, c: p.channel })))],
  );
  return deliveriesOf(db, notificationId);
}

export async function deliveriesOf(db: Queryable, notificationId: number): Promise<DeliveryRow[]> {
  return db.query<DeliveryRow>(`select ${D} from notify.ent_notification_delivery where notification_id = $1 order by id`, [notificationId]);
}

/** Records one attempt's outcome of a delivery (a SENT row is never changed again). */
export async function recordDelivery(
  db: Queryable,
  d: { notificationId: number; recipient: string; channel: ChannelType; status: DeliveryStatus; provider?: string | null; messageId?: string | null; content?: unknown; error?: string | null; attempted?: boolean },
): Promise<void> {
  await db.query(
    `update notify.ent_notification_delivery
     set status = $4, provider = coalesce($5, provider), provider_message_id = coalesce($6, provider_message_id),
       content = coalesce($7::text::jsonb, content), error = $8, attempts = attempts + $9, updated_at = now()
     where notification_id = $1 and recipient = $2::uuid and channel_type = $3::notify.notification_channel_type and status <> 'SENT'`,
    [d.notificationId, d.recipient, d.channel, d.status, d.provider ?? null, d.messageId ?? null,
      d.content === undefined ? null : JSON.stringify(d.content), d.error ?? null, d.attempted === false ? 0 : 1],
  );
}

/** Deliveries SENT to a subscriber on a channel of a workflow since `since` (throttle). */
export async function sentSince(db: Queryable, recipient: string, channel: ChannelType, workflowId: number, since: Date): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `select count(*)::int as n from notify.ent_notification_delivery d
     join notify.ent_notification n on n.id = d.notification_id
     where d.recipient = $1::uuid and d.channel_type = $2::notify.notification_channel_type and n.notification_workflow_id = $3
       and d.status = 'SENT' and d.updated_at >= $4`,
    [recipient, channel, workflowId, since],
  );
  return row?.n ?? 0;
}

// ---- the pollers ----

export interface PollCursor {
  updatedAt: Date;
  lastId: number;
}

export async function readCursor(db: Queryable, name: string): Promise<PollCursor | undefined> {
  const [row] = await db.query<{ updated_at: Date; last_id: number }>(`select updated_at, last_id from notify.poll_cursor where name = $1`, [name]);
  return row ? { updatedAt: row.updated_at, lastId: row.last_id } : undefined;
}

export async function saveCursor(db: Queryable, name: string, cursor: PollCursor, rows: number): Promise<void> {
  await db.query(
    `insert into notify.poll_cursor (name, updated_at, last_id, polled_at, rows_last_poll) values ($1, $2, $3, now(), $4)
     on conflict (name) do update set updated_at = excluded.updated_at, last_id = excluded.last_id, polled_at = now(), rows_last_poll = excluded.rows_last_poll`,
    [name, cursor.updatedAt, cursor.lastId, rows],
  );
}

export async function pollStats(db: Queryable): Promise<{ name: string; polled_at: Date; rows_last_poll: number; updated_at: Date }[]> {
  return db.query(`select name, polled_at, rows_last_poll, updated_at from notify.poll_cursor order by name`);
}

/**
 * The original's new-notification poll, with its cursor in the database and a tie-breaker on id
 * (rows sharing the cursor's updated_at are not skipped): due PENDING or FAILED rows past the cursor.
 */
export async function pollNew(db: Queryable, cursor: PollCursor, limit: number): Promise<{ id: number; updated_at: Date }[]> {
  return db.query(
    `select id, updated_at from notify.ent_notification
     where (updated_at, id) > ($1::timestamptz, $2::bigint) and notification_status in ('PENDING', 'FAILED')
       and (scheduled_for is null or scheduled_for <= now()) and publish_status = 'PUBLISH'
     order by updated_at, id limit $3`,
    [cursor.updatedAt, cursor.lastId, limit],
  );
}

/** FAILED rows that may be dispatched again (`failedDue`), oldest first. */
export async function pollFailed(db: Queryable, maxDispatches: number, baseMs: number, limit: number): Promise<number[]> {
  const rows = await db.query<{ id: number }>(
    `select id from notify.ent_notification
     where ${failedDue('$1', '$2')} and publish_status = 'PUBLISH'
     order by updated_at limit $3`,
    [maxDispatches, baseMs, limit],
  );
  return rows.map((r) => r.id);
}

/** PENDING rows whose scheduled_for has come, and PROCESSING rows left untouched too long. */
export async function pollScheduled(db: Queryable, staleMs: number, limit: number): Promise<number[]> {
  const rows = await db.query<{ id: number }>(
    `(select id from notify.ent_notification
      where notification_status = 'PENDING' and scheduled_for is not null and scheduled_for <= now() and publish_status = 'PUBLISH'
      order by scheduled_for limit $2)
     union all
     (select id from notify.ent_notification
      where notification_status = 'PROCESSING' and updated_at < now() - make_interval(secs => $1::double precision / 1000.0)
      order by updated_at limit $2)`,
    [staleMs, limit],
  );
  return rows.map((r) => r.id);
}

/** Counts by status, for /metrics and the health routes. */
export async function statusCounts(db: Queryable): Promise<Record<string, number>> {
  const rows = await db.query<{ s: string; n: number }>(`select notification_status::text as s, count(*)::int as n from notify.ent_notification group by 1`);
  return Object.fromEntries(rows.map((r) => [r.s, r.n]));
}

// ---- the delivery run's plan, in one read and one write ----

/** Everything the `plan` step reads about a notification, fetched by one statement. */
export interface PlanRead {
  notification: NotificationRow;
  workflow: WorkflowRow | undefined;
  subscribers: import('./subscribers-store.ts').SubscriberRow[];
  preferences: import('./subscribers-store.ts').PreferenceRow[];
  previous: Pick<DeliveryRow, 'recipient' | 'channel_type' | 'status'>[];
  templates: TemplateRow[];
}

/**
 * Per notification (by id; a missing one is absent from the map): the notification, its workflow,
 * its recipients' subscribers and preferences, the deliveries of earlier dispatches, and the
 * templates its workflow binds, in one round trip for all (sub-selects as jsonb). Each sub-select
 * is the statement the plan used to send on its own; one statement instead of five per
 * notification keeps the connection pool free for the engine's batched claims and checkpoints.
 * Date columns of the jsonb parts come back as ISO strings (the plan is stored as JSON anyway).
 */
export async function readPlans(db: Queryable, ids: readonly number[]): Promise<Map<number, PlanRead>> {
  const rows = await db.query<NotificationRow & { x_workflow: WorkflowRow | null; x_subscribers: PlanRead['subscribers']; x_preferences: PlanRead['preferences']; x_previous: PlanRead['previous']; x_templates: TemplateRow[] }>(
    `select n.id, n.name, n.description, n.publish_status::text as publish_status, n.enterprise_id::text as enterprise_id,
       n.business_id::text as business_id, n.notification_workflow_id, n.notification_rule_id,
       n.notification_status::text as notification_status, n.payload, n.recipients::text[] as recipients, n.channels::text[] as channels,
       n.overrides, n.tags, n.transaction_id, n.scheduled_for, n.processed_at, n.retracted_at, n.retraction_reason, n.error_details,
       n.workflow_version, n.dispatch_count, n.run_id::text as run_id, n.created_at, n.updated_at,
       (select to_jsonb(w) from (select ${W} from notify.ent_notification_workflow where id = n.notification_workflow_id) w) as x_workflow,
       (select coalesce(jsonb_agg(s), '[]'::jsonb) from (select id, enterprise_id::text as enterprise_id, subscriber_id::text as subscriber_id, name, email,
           phone, chat_webhook_url, push_subscriptions, locale, timezone, quiet_hours_start, quiet_hours_end, data, created_at, updated_at
         from notify.ent_subscriber where subscriber_id = any(n.recipients) and enterprise_id is not distinct from n.enterprise_id) s) as x_subscribers,
       (select coalesce(jsonb_agg(p), '[]'::jsonb) from (select subscriber_id::text as subscriber_id, notification_workflow_id, channel_type::text as channel_type, enabled
         from notify.ent_subscriber_preference where subscriber_id = any(n.recipients) and enterprise_id is not distinct from n.enterprise_id) p) as x_preferences,
       (select coalesce(jsonb_agg(d), '[]'::jsonb) from (select recipient::text as recipient, channel_type::text as channel_type, status
         from notify.ent_notification_delivery where notification_id = n.id order by id) d) as x_previous,
       (select coalesce(jsonb_agg(t), '[]'::jsonb) from (select id, template_key, channel_type::text as channel_type, subject_template, body_template, action_template,
           enterprise_id::text as enterprise_id
         from notify.ent_notification_template
         where template_key in (select b.value from notify.ent_notification_workflow w2, jsonb_each_text(coalesce(w2.template_overrides, '{}'::jsonb)) b
                                where w2.id = n.notification_workflow_id)
           and publish_status = 'PUBLISH' and not deactivated and (enterprise_id is null or enterprise_id = n.enterprise_id)) t) as x_templates
     from notify.ent_notification n where n.id = any($1::bigint[])`,
    [ids],
  );
  return new Map(rows.map((row) => {
    const { x_workflow, x_subscribers, x_preferences, x_previous, x_templates, ...notification } = row;
    return [Number(row.id), { notification, workflow: x_workflow ?? undefined, subscribers: x_subscribers, preferences: x_preferences, previous: x_previous, templates: x_templates }];
  }));
}

/** A delivery row a dispatch opens: PENDING to send, or already SKIPPED / DIGESTED with its reason. */
export interface OpenedDelivery {
  recipient: string;
  channel: ChannelType;
  status: 'PENDING' | 'SKIPPED' | 'DIGESTED';
  error?: string | null;
}

/** The delivery rows one dispatch of a notification opens. */
export interface OpenedDeliveries {
  notificationId: number;
  enterpriseId: string | null;
  rows: OpenedDelivery[];
}

/**
 * Opens dispatches' delivery rows in one statement (each notification at most once in a call): a
 * new pair is inserted with its status; an existing row (an earlier dispatch's) keeps its status
 * when this one is PENDING, and takes a SKIPPED or DIGESTED status unless it was SENT (as
 * recordDelivery would set it).
 */
export async function openPlannedDeliveries(db: Queryable, list: OpenedDeliveries[]): Promise<void> {
  const rows = list.flatMap((o) => o.rows.map((p) => ({ n: o.notificationId, t: o.enterpriseId, r: p.recipient, c: p.channel, s: p.status, e: p.error ?? null })));
  if (rows.length === 0) return;
  await db.query(
    `insert into notify.ent_notification_delivery as d (notification_id, enterprise_id, recipient, channel_type, status, error)
     select p.n, p.t::uuid, p.r::uuid, p.c::notify.notification_channel_type, p.s, p.e
     from jsonb_to_recordset($1::text::jsonb) as p(n bigint, t text, r text, c text, s text, e text)
     on conflict (notification_id, recipient, channel_type) do update set status = excluded.status, error = excluded.error, updated_at = now()
       where excluded.status <> 'PENDING' and d.status <> 'SENT'`,
    [JSON.stringify(rows)],
  );
}

// ---- the same statements for many notifications at once (batches.ts gathers them) ----

/** claimForDispatch for many rows in two statements; per id its dispatch, or undefined. */
export async function claimManyForDispatch(db: Queryable, ids: number[], maxDispatches: number, backoffBaseMs: number): Promise<Map<number, { dispatch: number; claimed: boolean }>> {
  const out = new Map<number, { dispatch: number; claimed: boolean }>();
  const claimed = await db.query<{ id: number; dispatch_count: number }>(
    `update notify.ent_notification
     set notification_status = 'PROCESSING', dispatch_count = dispatch_count + 1, updated_at = now()
     where id = any($1::bigint[]) and publish_status = 'PUBLISH' and not deactivated
       and (notification_status = 'PENDING' or ${failedDue('$2', '$3')})
       and (scheduled_for is null or scheduled_for <= now())
     returning id, dispatch_count`,
    [ids, maxDispatches, backoffBaseMs],
  );
  for (const r of claimed) out.set(Number(r.id), { dispatch: r.dispatch_count, claimed: true });
  const rest = ids.filter((id) => !out.has(id));
  if (rest.length) {
    // A row already PROCESSING goes to its run again (the dispatch ticks it), so it counts as
    // touched: the stale poller, which takes the oldest PROCESSING rows first, moves on to others
    // rather than handing the same hundred runs (waiting out quiet hours, say) back every poll.
    const rows = await db.query<{ id: number; dispatch_count: number }>(
      `update notify.ent_notification set updated_at = now()
       where id = any($1::bigint[]) and notification_status = 'PROCESSING' returning id, dispatch_count`,
      [rest],
    );
    for (const r of rows) out.set(Number(r.id), { dispatch: r.dispatch_count, claimed: false });
  }
  return out;
}

/**
 * The batch updates from here on also name their keys as an array (`= any($2)`), so the planner
 * looks rows up by index instead of reading a table of some thousand rows into a hash join on
 * every batch (see acquireRuns in workflows/store.ts).
 */
export async function setRuns(db: Queryable, runs: { id: number; runId: string }[]): Promise<void> {
  await db.query(
    `update notify.ent_notification n set run_id = r.run_id::uuid
     from jsonb_to_recordset($1::text::jsonb) as r(id bigint, run_id text)
     where n.id = r.id and n.id = any($2::bigint[]) and n.run_id is distinct from r.run_id::uuid`,
    [JSON.stringify(runs.map((r) => ({ id: r.id, run_id: r.runId }))), runs.map((r) => r.id)],
  );
}

export async function statusesOf(db: Queryable, ids: number[]): Promise<Map<number, NotificationStatus>> {
  const rows = await db.query<{ id: number; s: NotificationStatus }>(
    `select id, notification_status::text as s from notify.ent_notification where id = any($1::bigint[])`, [ids]);
  return new Map(rows.map((r) => [Number(r.id), r.s]));
}

export type DeliveryRecord = Parameters<typeof recordDelivery>[1];

/** recordDelivery for many deliveries (each a different recipient × channel) in one statement. */
export async function recordDeliveries(db: Queryable, list: DeliveryRecord[]): Promise<void> {
  await db.query(
    `update notify.ent_notification_delivery d
     set status = r.status, provider = coalesce(r.provider, d.provider), provider_message_id = coalesce(r.message_id, d.provider_message_id),
       content = coalesce(r.content, d.content), error = r.error, attempts = d.attempts + r.attempted, updated_at = now()
     from jsonb_to_recordset($1::text::jsonb) as r(notification_id bigint, recipient text, channel text, status text, provider text, message_id text,
       content jsonb, error text, attempted int)
     where d.notification_id = r.notification_id and d.recipient = r.recipient::uuid and d.channel_type = r.channel::notify.notification_channel_type
       and d.notification_id = any($2::bigint[]) and d.status <> 'SENT'`,
    [JSON.stringify(list.map((d) => ({
      notification_id: d.notificationId, recipient: d.recipient, channel: d.channel, status: d.status, provider: d.provider ?? null,
      message_id: d.messageId ?? null, content: d.content === undefined ? null : d.content, error: d.error ?? null, attempted: d.attempted === false ? 0 : 1,
    }))), list.map((d) => d.notificationId)],
  );
}

/** finishNotification for many rows in one statement; the ids it finished. */
export async function finishNotifications(db: Queryable, list: { id: number; status: 'SENT' | 'FAILED'; details: unknown }[]): Promise<Set<number>> {
  const rows = await db.query<{ id: number }>(
    `update notify.ent_notification n
     set notification_status = r.status::notify.notification_status, processed_at = now(), updated_at = now(), error_details = r.details
     from jsonb_to_recordset($1::text::jsonb) as r(id bigint, status text, details jsonb)
     where n.id = r.id and n.id = any($2::bigint[]) and n.notification_status = 'PROCESSING' returning n.id`,
    [JSON.stringify(list), list.map((r) => r.id)],
  );
  return new Set(rows.map((r) => Number(r.id)));
}
