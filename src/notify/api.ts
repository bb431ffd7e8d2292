import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { HttpError } from '../runtime/http-error.ts';
import { plainString } from '../runtime/http-input.ts';
import { inboxTopic } from './channels/in-app.ts';
import type { NotifyDeps } from './deps.ts';
import { dispatch } from './dispatch.ts';
import { markMessages, inboxCounts, listInbox, retractMessages } from './inbox-store.ts';
import * as store from './store.ts';
import { CHANNELS, STATUSES } from './store.ts';
import * as subs from './subscribers-store.ts';
import { renderMessage, TemplateError } from './templates.ts';
import { parseCron } from '../runtime/schedules.ts';
import { digestCounts } from './digest-store.ts';
import { fireEvent, RULE_SCHEDULE_PREFIX, RuleError, syncRuleSchedules } from './rules.ts';
import * as rules from './rules-store.ts';
import { present, presentDelivery, presentInbox, presentSubscriber, presentWorkflow } from './present.ts';

/**
 * Notifications routes (docs/API.md, "Notifications"): trigger (idempotent by transaction id),
 * list/get/retract, workflows and templates, template preview, subscribers and preferences, the
 * in-app inbox, and the original XNovu app's /api/trigger and /api/trigger-async.
 */

const uuid = z.uuid({ error: 'must be a UUID' });
const channel = z.enum(CHANNELS);
const idParam = z.object({ id: z.coerce.number().int().positive() });
const subscriberParam = z.object({ subscriberId: uuid });
const keyParam = z.object({ key: z.string().regex(/^[a-zA-Z0-9_.:-]{1,200}$/, 'must be 1-200 letters, digits, _ . : -') });
const enterpriseQuery = z.object({ enterpriseId: uuid.optional() });

const triggerBody = z.strictObject({
  workflowKey: z.string().min(1).max(200),
  recipients: z.array(uuid).min(1).max(10_000),
  payload: z.record(z.string(), z.unknown()).default({}),
  channels: z.array(channel).min(1).max(5).optional(),
  overrides: z.record(z.string(), z.unknown()).optional(),
  tags: z.array(z.string().max(100)).max(50).optional(),
  transactionId: z.string().min(1).max(200).optional(),
  scheduledFor: z.iso.datetime({ offset: true }).optional(),
  enterpriseId: uuid.optional(),
  businessId: uuid.optional(),
  name: plainString(500).optional(),
  description: z.string().max(5000).optional(),
});

const listQuery = z.object({
  status: z.enum(STATUSES).optional(),
  enterpriseId: uuid.optional(),
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** base64url of exactly `n` bytes. */
const b64uBytes = (n: number, what: string) => z.string().max(200).refine((v) => /^[A-Za-z0-9_-]+={0,2}$/.test(v) && Buffer.from(v, 'base64url').length === n, `must be ${what} (${n} bytes, base64url)`);
/** A browser's PushSubscription as `JSON.stringify(subscription)` gives it. */
const pushSubscription = z.object({
  endpoint: z.url({ protocol: /^https?$/ }).max(2000),
  expirationTime: z.number().nullable().optional(),
  keys: z.object({ p256dh: b64uBytes(65, 'an uncompressed P-256 public key'), auth: b64uBytes(16, 'the auth secret') }),
}).transform(({ endpoint, keys }) => ({ endpoint, keys }));
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM');
const subscriberBody = z.strictObject({
  enterpriseId: uuid.optional(),
  name: plainString(300).nullable().optional(),
  email: z.email().max(320).nullable().optional(),
  phone: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be E.164 (+15551234567)').nullable().optional(),
  chatWebhookUrl: z.url({ protocol: /^https?$/ }).max(2000).nullable().optional(),
  pushSubscriptions: z.array(pushSubscription).max(20).optional(),
  locale: z.string().max(35).nullable().optional(),
  timezone: z.string().max(100).refine(validZone, 'must be an IANA time zone').default('UTC'),
  quietHoursStart: hhmm.nullable().optional(),
  quietHoursEnd: hhmm.nullable().optional(),
  data: z.record(z.string(), z.unknown()).nullable().optional(),
});
const preferenceBody = z.strictObject({ enterpriseId: uuid.optional(), workflowKey: z.string().max(200).optional(), channel, enabled: z.boolean() });

const workflowBody = z.strictObject({
  name: plainString(300).optional(),
  enterpriseId: uuid.optional(),
  type: z.enum(['STATIC', 'DYNAMIC']).default('STATIC'),
  defaultChannels: z.array(channel).min(1).max(5).default(['IN_APP']),
  templates: z.partialRecord(channel, z.string().max(200)).default({}),
  critical: z.boolean().default(false),
  digest: z.strictObject({ windowMs: z.number().int().min(100).max(86_400_000).optional(), maxEvents: z.number().int().min(1).max(10_000).optional() }).nullable().optional(),
  throttle: z.strictObject({ limit: z.number().int().min(1).max(100_000), windowMs: z.number().int().min(100).max(86_400_000) }).nullable().optional(),
  forwardToNovu: z.boolean().default(false),
  publishStatus: z.enum(['NONE', 'DRAFT', 'DISCARD', 'PUBLISH', 'DELETED', 'REVIEW']).default('PUBLISH'),
});
const templateBody = z.strictObject({
  channel, name: plainString(300).optional(), enterpriseId: uuid.optional(),
  subject: z.string().max(10_000).nullable().optional(), body: z.string().min(1).max(100_000),
  /** Liquid for the action link of in-app and push messages. */
  actionUrl: z.string().max(10_000).nullable().optional(),
});
const previewBody = z.strictObject({
  templateKey: z.string().max(200).optional(),
  channel: channel.optional(),
  subject: z.string().max(10_000).nullable().optional(),
  body: z.string().max(100_000).optional(),
  actionUrl: z.string().max(10_000).nullable().optional(),
  payload: z.record(z.string(), z.unknown()).default({}),
  subscriber: z.record(z.string(), z.unknown()).default({}),
}).refine((b) => !!b.templateKey !== (b.body !== undefined && !!b.channel), 'give templateKey, or channel and body');
const inboxQuery = z.object({ archived: z.enum(['true', 'false']).default('false'), before: z.coerce.number().int().positive().optional(), limit: z.coerce.number().int().min(1).max(200).default(50) });
const markBody = z.strictObject({ action: z.enum(['read', 'unread', 'seen', 'archive', 'unarchive']), ids: z.array(z.number().int().positive()).max(1000).optional() });
const ruleBody = z.strictObject({
  name: plainString(300),
  workflowKey: z.string().min(1).max(200),
  enterpriseId: uuid.optional(),
  triggerType: z.enum(['CRON', 'EVENT']),
  triggerConfig: z.strictObject({
    cron: z.string().max(200).optional(), timezone: z.string().max(100).optional(), enabled: z.boolean().optional(),
    missed: z.enum(['skip', 'run-once']).optional(), catchUpMs: z.number().int().min(0).optional(), event: z.string().min(1).max(200).optional(),
  }),
  rulePayload: z.record(z.string(), z.unknown()).default({}),
  publish: z.boolean().default(true),
});
const eventBody = z.strictObject({ name: z.string().min(1).max(200), data: z.record(z.string(), z.unknown()).default({}), eventId: z.string().min(1).max(200).optional(), enterpriseId: uuid.optional() });
const retractBody = z.strictObject({ reason: z.string().max(2000).optional(), enterpriseId: uuid.optional() });
const resendBody = z.strictObject({ enterpriseId: uuid.optional() });

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function notifyRoutes(app: FastifyInstance, deps: NotifyDeps): void {
  const { sql, events } = deps.services;

  const trigger = async (body: z.infer<typeof triggerBody>) => {
    const wf = await store.workflowByKey(sql, body.workflowKey);
    if (!wf) throw new HttpError(404, 'workflow_not_found', `no notification workflow ${body.workflowKey}`);
    if (wf.deactivated || wf.publish_status !== 'PUBLISH') throw new HttpError(409, 'workflow_not_published', `workflow ${body.workflowKey} is not published`);
    const suffix = body.transactionId ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    return store.insertNotification(sql, {
      name: body.name ?? `${wf.workflow_key} ${suffix}`, description: body.description ?? null,
      enterpriseId: body.enterpriseId ?? null, businessId: body.businessId ?? null, workflowId: wf.id,
      payload: body.payload, recipients: body.recipients, channels: body.channels ?? wf.default_channels ?? null,
      overrides: body.overrides ?? null, tags: body.tags ?? null, transactionId: body.transactionId ?? null,
      scheduledFor: body.scheduledFor ? new Date(body.scheduledFor) : null,
    });
  };

  app.post('/api/notifications', async (req, reply) => {
    const body = triggerBody.parse(req.body ?? {});
    const { row, created } = await trigger(body);
    return reply.status(created ? 201 : 200).send({ notification: present(row), created });
  });

  app.get('/api/notifications', async (req) => {
    const q = listQuery.parse(req.query);
    const rows = await store.listNotifications(sql, { limit: q.limit, ...(q.status && { status: q.status }), ...(q.enterpriseId && { enterpriseId: q.enterpriseId }), ...(q.before && { beforeId: q.before }) });
    return { notifications: rows.map(present), next: rows.length === q.limit ? rows.at(-1)!.id : null };
  });

  app.get('/api/notifications/:id', async (req) => {
    const { id } = idParam.parse(req.params);
    const { enterpriseId } = enterpriseQuery.parse(req.query);
    const row = await store.getNotification(sql, id, enterpriseId ?? null);
    if (!row) throw new HttpError(404, 'not_found', `no notification ${id}`);
    const deliveries = await store.deliveriesOf(sql, id);
    return { notification: present(row), deliveries: deliveries.map(presentDelivery) };
  });

  app.post('/api/notifications/:id/retract', async (req) => {
    const { id } = idParam.parse(req.params);
    const body = retractBody.parse(req.body ?? {});
    const { previous, inbox } = await sql.transaction(async (tx) => {
      const previous = await store.retractNotification(tx, id, body.reason ?? null, body.enterpriseId ?? null);
      // After (or during) delivery, its in-app messages are taken back too.
      const inbox = previous ? await retractMessages(tx, id) : [];
      return { previous, inbox };
    });
    if (!previous) {
      const row = await store.getNotification(sql, id, body.enterpriseId ?? null);
      if (!row) throw new HttpError(404, 'not_found', `no notification ${id}`);
      throw new HttpError(409, 'already_retracted', `notification ${id} is already RETRACTED`);
    }
    for (const m of inbox) events.emit({ type: 'inbox.retracted', topic: inboxTopic(m.subscriber_id), data: { id: m.id, notificationId: id }, at: Date.now() });
    const row = await store.getNotification(sql, id);
    return { notification: present(row!), previousStatus: previous, inAppRetracted: inbox.length };
  });

  app.post('/api/notifications/:id/resend', async (req) => {
    const { id } = idParam.parse(req.params);
    const { enterpriseId } = resendBody.parse(req.body ?? {});
    if (!(await store.resendNotification(sql, id, enterpriseId ?? null))) {
      const row = await store.getNotification(sql, id, enterpriseId ?? null);
      if (!row) throw new HttpError(404, 'not_found', `no notification ${id}`);
      throw new HttpError(409, 'not_failed', `notification ${id} is ${row.notification_status}: only a FAILED notification is sent again`);
    }
    return { notification: present((await store.getNotification(sql, id))!) };
  });

  // ---- workflows and templates ----
  app.get('/api/notify/workflows', async () => ({ workflows: (await store.listWorkflows(sql)).map(presentWorkflow) }));
  app.put('/api/notify/workflows/:key', async (req) => {
    const { key } = keyParam.parse(req.params);
    const b = workflowBody.parse(req.body ?? {});
    const row = await store.upsertWorkflow(sql, {
      key, ...(b.name && { name: b.name }), enterpriseId: b.enterpriseId ?? null, type: b.type, defaultChannels: b.defaultChannels, templates: b.templates,
      critical: b.critical, digest: b.digest ?? null, throttle: b.throttle ?? null, forwardToNovu: b.forwardToNovu, publishStatus: b.publishStatus,
    });
    return { workflow: presentWorkflow(row) };
  });
  app.put('/api/notify/templates/:key', async (req) => {
    const { key } = keyParam.parse(req.params);
    const b = templateBody.parse(req.body ?? {});
    // Refuse a template that does not parse: it would fail every delivery.
    try {
      deps.liquid.parse(b.body);
      if (b.subject) deps.liquid.parse(b.subject);
      if (b.actionUrl) deps.liquid.parse(b.actionUrl);
    } catch (err) {
      throw new HttpError(400, 'invalid_template', `template ${key} does not parse: ${(err as Error).message}`);
    }
    const row = await store.upsertTemplate(sql, {
      key, channel: b.channel, subject: b.subject ?? null, body: b.body, action: b.actionUrl ?? null, ...(b.name && { name: b.name }), enterpriseId: b.enterpriseId ?? null,
    });
    return { template: { id: row.id, key: row.template_key, channel: row.channel_type, subject: row.subject_template, body: row.body_template, actionUrl: row.action_template } };
  });
  app.post('/api/notify/templates/preview', async (req) => {
    const b = previewBody.parse(req.body ?? {});
    let source: { key: string | null; subject: string | null; body: string; actionUrl: string | null };
    let ch = b.channel;
    if (b.templateKey) {
      const [t] = await store.templatesByKey(sql, [b.templateKey], null);
      if (!t) throw new HttpError(404, 'template_not_found', `no published template ${b.templateKey}`);
      source = { key: t.template_key, subject: t.subject_template, body: t.body_template, actionUrl: t.action_template };
      ch = t.channel_type;
    } else {
      source = { key: null, subject: b.subject ?? null, body: b.body!, actionUrl: b.actionUrl ?? null };
    }
    try {
      const rendered = await renderMessage(deps.templates, ch!, source, { ...b.payload, payload: b.payload, subscriber: b.subscriber });
      return { channel: ch, ...rendered };
    } catch (err) {
      if (err instanceof TemplateError) throw new HttpError(422, 'template_error', err.message);
      throw err;
    }
  });

  // ---- subscribers and preferences ----
  app.get('/api/notify/subscribers', async (req) => {
    const q = z.object({ enterpriseId: uuid.optional(), limit: z.coerce.number().int().min(1).max(500).default(100) }).parse(req.query);
    return { subscribers: (await subs.listSubscribers(sql, q.enterpriseId ?? null, q.limit)).map(presentSubscriber) };
  });
  app.put('/api/notify/subscribers/:subscriberId', async (req) => {
    const { subscriberId } = subscriberParam.parse(req.params);
    const b = subscriberBody.parse(req.body ?? {});
    const row = await subs.upsertSubscriber(sql, {
      subscriberId, enterpriseId: b.enterpriseId ?? null, name: b.name ?? null, email: b.email ?? null, phone: b.phone ?? null,
      chatWebhookUrl: b.chatWebhookUrl ?? null, pushSubscriptions: b.pushSubscriptions ?? [], locale: b.locale ?? null, timezone: b.timezone,
      quietHoursStart: b.quietHoursStart ?? null, quietHoursEnd: b.quietHoursEnd ?? null, data: b.data ?? null,
    });
    return { subscriber: presentSubscriber(row) };
  });
  app.get('/api/notify/subscribers/:subscriberId', async (req) => {
    const { subscriberId } = subscriberParam.parse(req.params);
    const { enterpriseId } = enterpriseQuery.parse(req.query);
    const row = await subs.getSubscriber(sql, subscriberId, enterpriseId ?? null);
    if (!row) throw new HttpError(404, 'not_found', `no subscriber ${subscriberId}`);
    const preferences = await subs.preferencesOf(sql, [subscriberId], enterpriseId ?? null);
    return { subscriber: presentSubscriber(row), preferences };
  });
  app.delete('/api/notify/subscribers/:subscriberId', async (req, reply) => {
    const { subscriberId } = subscriberParam.parse(req.params);
    const { enterpriseId } = enterpriseQuery.parse(req.query);
    const gone = await sql.transaction((tx) => subs.deleteSubscriber(tx, subscriberId, enterpriseId ?? null));
    if (!gone) throw new HttpError(404, 'not_found', `no subscriber ${subscriberId}`);
    return reply.status(204).send();
  });
  // A browser subscribing (pushManager.subscribe) or unsubscribing, one subscription at a time.
  app.post('/api/notify/subscribers/:subscriberId/push-subscriptions', async (req, reply) => {
    const { subscriberId } = subscriberParam.parse(req.params);
    const { enterpriseId } = enterpriseQuery.parse(req.query);
    const row = await subs.addPushSubscription(sql, subscriberId, enterpriseId ?? null, pushSubscription.parse(req.body ?? {}));
    if (!row) throw new HttpError(404, 'not_found', `no subscriber ${subscriberId}`);
    return reply.status(201).send({ subscriber: presentSubscriber(row) });
  });
  app.delete('/api/notify/subscribers/:subscriberId/push-subscriptions', async (req) => {
    const { subscriberId } = subscriberParam.parse(req.params);
    const { enterpriseId, endpoint } = enterpriseQuery.extend({ endpoint: z.url().max(2000) }).parse(req.query);
    return { removed: (await subs.removePushSubscriptions(sql, subscriberId, enterpriseId ?? null, [endpoint])) > 0 };
  });
  app.put('/api/notify/subscribers/:subscriberId/preferences', async (req) => {
    const { subscriberId } = subscriberParam.parse(req.params);
    const b = preferenceBody.parse(req.body ?? {});
    let workflowId: number | null = null;
    if (b.workflowKey) {
      const wf = await store.workflowByKey(sql, b.workflowKey);
      if (!wf) throw new HttpError(404, 'workflow_not_found', `no notification workflow ${b.workflowKey}`);
      workflowId = wf.id;
    }
    const row = await subs.setPreference(sql, { subscriberId, enterpriseId: b.enterpriseId ?? null, workflowId, channel: b.channel, enabled: b.enabled });
    return { preference: row };
  });

  // ---- in-app inbox ----
  app.get('/api/notify/inbox/:subscriberId', async (req) => {
    const { subscriberId } = subscriberParam.parse(req.params);
    const q = inboxQuery.parse(req.query);
    const [messages, counts] = await Promise.all([
      listInbox(sql, subscriberId, { archived: q.archived === 'true', limit: q.limit, ...(q.before && { beforeId: q.before }) }),
      inboxCounts(sql, subscriberId),
    ]);
    return { messages: messages.map(presentInbox), ...counts, topic: inboxTopic(subscriberId) };
  });
  app.post('/api/notify/inbox/:subscriberId/mark', async (req) => {
    const { subscriberId } = subscriberParam.parse(req.params);
    const b = markBody.parse(req.body ?? {});
    const changed = await markMessages(sql, subscriberId, b.ids ?? null, b.action);
    const counts = await inboxCounts(sql, subscriberId);
    events.emit({ type: 'inbox.updated', topic: inboxTopic(subscriberId), data: { action: b.action, ids: changed, ...counts }, at: Date.now() });
    return { changed, ...counts };
  });

  // ---- rules, events and digests ----
  app.get('/api/notify/rules', async () => ({ rules: await rules.listRules(sql) }));
  app.post('/api/notify/rules', async (req, reply) => {
    const b = ruleBody.parse(req.body ?? {});
    const wf = await store.workflowByKey(sql, b.workflowKey);
    if (!wf) throw new HttpError(404, 'workflow_not_found', `no notification workflow ${b.workflowKey}`);
    if (b.triggerType === 'CRON') {
      try {
        parseCron(b.triggerConfig.cron ?? '', b.triggerConfig.timezone ?? 'UTC');
      } catch (err) {
        throw new HttpError(400, 'invalid_cron', (err as Error).message);
      }
    } else if (!b.triggerConfig.event) throw new HttpError(400, 'invalid_rule', 'an EVENT rule needs triggerConfig.event');
    const row = await rules.insertRule(sql, {
      name: b.name, enterpriseId: b.enterpriseId ?? null, workflowId: wf.id, triggerType: b.triggerType, triggerConfig: b.triggerConfig,
      rulePayload: b.rulePayload, publish: b.publish,
    });
    if (!row) throw new HttpError(409, 'rule_exists', `a rule named ${b.name} exists`);
    const sync = await syncRuleSchedules(deps.services);
    return reply.status(201).send({ rule: row, schedule: row.trigger_type === 'CRON' ? `${RULE_SCHEDULE_PREFIX}${row.id}` : null, sync });
  });
  app.post('/api/notify/rules/:id/:action', async (req) => {
    const { id, action } = z.object({ id: z.coerce.number().int().positive(), action: z.enum(['activate', 'deactivate']) }).parse(req.params);
    const row = await rules.setRuleActive(sql, id, action === 'activate');
    if (!row) throw new HttpError(404, 'not_found', `no rule ${id}`);
    await syncRuleSchedules(deps.services);
    return { rule: row };
  });
  app.delete('/api/notify/rules/:id', async (req, reply) => {
    const { id } = idParam.parse(req.params);
    if (!(await rules.deleteRule(sql, id))) throw new HttpError(404, 'not_found', `no rule ${id}`);
    await syncRuleSchedules(deps.services);
    return reply.status(204).send();
  });
  app.post('/api/notify/events', async (req, reply) => {
    const b = eventBody.parse(req.body ?? {});
    try {
      const made = await sql.transaction((tx) => fireEvent(tx, { name: b.name, data: b.data, ...(b.eventId && { eventId: b.eventId }), ...(b.enterpriseId && { enterpriseId: b.enterpriseId }) }));
      return reply.status(202).send({ notifications: made.map(present) });
    } catch (err) {
      if (err instanceof RuleError) throw new HttpError(422, err.code.toLowerCase(), err.message);
      throw err;
    }
  });
  app.get('/api/notify/digests', async () => ({ ...(await digestCounts(sql)) }));
  // The pollers' last runs (cursor, rows per poll, lag) and counts by status: seed 002's polling metrics.
  app.get('/api/notify/status', async () => {
    const [pollers, statuses, digests] = await Promise.all([store.pollStats(sql), store.statusCounts(sql), digestCounts(sql)]);
    const now = Date.now();
    return {
      pollers: pollers.map((p) => ({ name: p.name, lastPollAt: p.polled_at, rowsLastPoll: p.rows_last_poll, cursor: p.updated_at, lagMs: p.name === 'new' ? Math.max(0, now - p.updated_at.getTime()) : null })),
      statuses, digests,
    };
  });

  // ---- the local SMTP sink (demo default / tests) ----
  app.get('/api/notify/emulator/smtp', async () => {
    if (!deps.sink) throw new HttpError(404, 'no_sink', 'NOTIFY_SMTP_URL is set: mail goes to that relay, not to the local sink');
    return { url: deps.sink.url, accepted: deps.sink.accepted, messages: deps.sink.messages().reverse().slice(0, 100) };
  });

  // ---- the in-process push service (demo default with no VAPID keys) ----
  app.get('/api/notify/push/vapid-public-key', async () => {
    if (!deps.vapidPublicKey) throw new HttpError(404, 'push_off', 'web push is not configured (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT)');
    return { publicKey: deps.vapidPublicKey };
  });
  app.get('/api/notify/emulator/push', async () => {
    if (!deps.pushService) throw new HttpError(404, 'no_push_service', 'VAPID keys or NOTIFY_SMTP_URL are set: push goes to real push services');
    return { url: deps.pushService.url, deliveries: deps.pushService.deliveries.slice(-100).reverse() };
  });
  /** A browser's subscription on the in-process push service, for a demo subscriber's pushSubscriptions. */
  app.post('/api/notify/emulator/push/subscriptions', async (_req, reply) => {
    if (!deps.pushService) throw new HttpError(404, 'no_push_service', 'VAPID keys or NOTIFY_SMTP_URL are set: push goes to real push services');
    return reply.status(201).send(deps.pushService.subscribe(deps.vapidPublicKey));
  });

  // ---- the original XNovu app routes ----
  app.post('/api/trigger', async (req, reply) => {
    const b = z.object({ workflowId: z.string().max(200).optional(), payload: z.record(z.string(), z.unknown()).optional(), subscriberId: uuid.optional() }).parse(req.body ?? {});
    if (!b.workflowId) return reply.status(400).send({ message: 'workflowId is required' });
    const wf = await store.workflowByKey(sql, b.workflowId);
    if (!wf) return reply.status(404).send({ message: `Workflow ${b.workflowId} not found`, availableWorkflows: (await store.listWorkflows(sql)).map((w) => w.workflow_key) });
    if (!b.subscriberId) return reply.status(400).send({ success: false, error: 'subscriberId is required', details: 'Nova has no default subscriber' });
    const { row } = await trigger({ workflowKey: b.workflowId, recipients: [b.subscriberId], payload: b.payload ?? {} });
    return { success: true, data: present(row), workflow: b.workflowId, subscriberId: b.subscriberId };
  });
  app.post('/api/trigger-async', async (req, reply) => {
    const b = z.object({ notificationId: z.coerce.number().int().positive().optional(), notificationIds: z.array(z.coerce.number().int().positive()).max(1000).optional() }).parse(req.body ?? {});
    const ids = b.notificationIds ?? (b.notificationId ? [b.notificationId] : []);
    if (ids.length === 0) return reply.status(400).send({ error: 'notificationId or notificationIds is required' });
    const results = [];
    for (const id of ids) results.push({ notificationId: id, ...(await dispatch(deps, { notificationId: id }) as object) });
    const ok = results.filter((r) => (r as { dispatched?: boolean }).dispatched).length;
    return ids.length === 1 && b.notificationId ? { success: ok === 1, async: true, ...results[0] } : { success: ok === ids.length, async: true, totalCount: ids.length, successCount: ok, results };
  });
}
