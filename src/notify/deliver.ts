/**
 * The delivery of one dispatch of a notification, as a durable workflow run (`notify.deliver`)
 * on the workflows engine: a `plan` step, then one `send:<recipient>:<channel>` step per
 * delivery (retried with backoff by the engine, holding no worker while it waits), then a
 * `finish` step that sets SENT or FAILED with the per-delivery results in error_details. Every
 * step's outcome is stored, so a run that resumes after a crash does not send twice what a step
 * already recorded as sent.
 */
import { z } from 'zod';
import { defineWorkflow, StepFailed, type Workflow } from '../workflows/index.ts';
import { PermanentDeliveryError } from './channels/types.ts';
import type { NotifyDeps } from './deps.ts';
import { planDeliveries, type PlannedDelivery } from './plan.ts';
import * as store from './store.ts';
import type { ChannelType, NotificationRow, WorkflowRow } from './store.ts';
import { bareSubscriber, type SubscriberRow } from './subscribers-store.ts';
import { renderMessage, scopeFor, sourceFor, TemplateError } from './templates.ts';

export const DELIVER_WORKFLOW = 'notify.deliver';

export const deliverInput = z.object({ notificationId: z.number().int().positive(), dispatch: z.number().int().positive() });
export type DeliverInput = z.infer<typeof deliverInput>;

/** What a send step returns (stored with the step). */
export interface DeliveryOutcome {
  recipient: string;
  channel: ChannelType | 'NOVU';
  status: 'SENT' | 'FAILED' | 'SKIPPED';
  messageId?: string | null;
  error?: string;
  /** A failure that another try cannot fix: no template, a render error, a refused recipient. */
  permanent?: true;
}

interface Plan {
  stop?: string;
  notification?: Pick<NotificationRow, 'id' | 'name' | 'enterprise_id' | 'payload' | 'overrides' | 'transaction_id' | 'notification_workflow_id'>;
  workflow?: WorkflowRow;
  subscribers: SubscriberRow[];
  templates: Awaited<ReturnType<typeof store.templatesByKey>>;
  deliveries: PlannedDelivery[];
}

async function plan(deps: NotifyDeps, input: DeliverInput): Promise<Plan> {
  const empty = { subscribers: [], templates: [], deliveries: [] };
  // One statement reads all the plan needs (store.readPlans, shared by the plans made at once),
  // one writes the delivery rows.
  const read = await deps.batches.plan.add(input.notificationId);
  if (!read) return { ...empty, stop: 'notification not found' };
  const { notification: n, workflow } = read;
  // Another dispatch took over, or the row was retracted meanwhile: this run does nothing.
  if (n.notification_status !== 'PROCESSING' || n.dispatch_count !== input.dispatch) return { ...empty, stop: `notification is ${n.notification_status} (dispatch ${n.dispatch_count})` };
  const notification = {
    id: n.id, name: n.name, enterprise_id: n.enterprise_id, payload: n.payload, overrides: n.overrides, transaction_id: n.transaction_id,
    notification_workflow_id: n.notification_workflow_id,
  };
  if (workflow?.forward_to_novu) {
    if (!deps.novu) return { ...empty, notification, workflow, stop: 'workflow forwards to Novu but NOVU_SECRET_KEY is not set' };
    return { ...empty, notification, workflow, deliveries: [...new Set(n.recipients)].map((recipient) => ({ recipient, channel: 'IN_APP' as const, action: 'send' as const })) };
  }
  const { subscribers, preferences, previous } = read;
  const deliveries = planDeliveries({
    notification: n, workflow, subscribers, preferences, previous, now: new Date(),
    unreachable: (channel, sub) => {
      const provider = deps.channels.get(channel);
      return provider ? provider.unreachable(sub) : `${channel} has no provider in this deployment`;
    },
  });
  // A digest workflow gathers its events per subscriber and channel; the digest loop sends them.
  if (workflow?.digest) {
    const digested = deliveries.filter((x) => x.action === 'send');
    // The event's time is when the notification became due, however late its first plan runs; a
    // later dispatch (after FAILED) joins the window open now, not one that may be sent already.
    const occurredAt = n.dispatch_count > 1 ? null : n.scheduled_for && n.scheduled_for > n.created_at ? n.scheduled_for : n.created_at;
    await Promise.all(digested.map((x) => deps.batches.digest.add({
      notificationId: n.id, enterpriseId: n.enterprise_id, subscriberId: x.recipient, workflowId: workflow.id, channel: x.channel, payload: n.payload, occurredAt,
    })));
    for (const x of digested) {
      x.action = 'digest';
      delete x.notBefore;
    }
  }
  await deps.batches.open.add({ notificationId: n.id, enterpriseId: n.enterprise_id, rows: deliveries.filter((d) => d.action !== 'done').map((d) => ({
    recipient: d.recipient, channel: d.channel,
    status: d.action === 'skip' ? 'SKIPPED' as const : d.action === 'digest' ? 'DIGESTED' as const : 'PENDING' as const,
    error: d.action === 'skip' ? d.reason ?? null : null,
  })) });
  return { notification, workflow, subscribers, templates: read.templates, deliveries };
}

/** One delivery: checked against retraction, rendered in full, then sent once. */
async function sendOne(deps: NotifyDeps, p: Plan, d: PlannedDelivery, signal: AbortSignal): Promise<DeliveryOutcome> {
  const { sql } = deps.services;
  const n = p.notification!;
  const base = { notificationId: n.id, recipient: d.recipient, channel: d.channel };
  if ((await deps.batches.status.add(n.id)) === 'RETRACTED') {
    await deps.batches.record.add({ ...base, status: 'SKIPPED', error: 'retracted before delivery', attempted: false });
    return { recipient: d.recipient, channel: d.channel, status: 'SKIPPED', error: 'retracted' };
  }
  const sub = p.subscribers.find((s) => s.subscriber_id === d.recipient) ?? bareSubscriber(d.recipient, n.enterprise_id);
  const wf = p.workflow;
  if (wf?.throttle && n.notification_workflow_id) {
    const since = new Date(Date.now() - wf.throttle.windowMs);
    if ((await store.sentSince(sql, d.recipient, d.channel, n.notification_workflow_id, since)) >= wf.throttle.limit) {
      await deps.batches.record.add({ ...base, status: 'SKIPPED', error: `throttled: ${wf.throttle.limit} per ${wf.throttle.windowMs} ms`, attempted: false });
      return { recipient: d.recipient, channel: d.channel, status: 'SKIPPED', error: 'throttled' };
    }
  }
  const source = sourceFor(d.channel, n.overrides, wf?.template_overrides ?? null, p.templates);
  const fail = async (error: string): Promise<DeliveryOutcome> => {
    await deps.batches.record.add({ ...base, status: 'FAILED', error });
    return { recipient: d.recipient, channel: d.channel, status: 'FAILED', error, permanent: true };
  };
  if (!source) return fail(`no template for ${d.channel}: bind one in the workflow's template_overrides or give overrides.channels.${d.channel}`);
  let content;
  try {
    const subscriberVars = { id: sub.subscriber_id, subscriberId: sub.subscriber_id, name: sub.name, email: sub.email, phone: sub.phone, locale: sub.locale, timezone: sub.timezone, data: sub.data ?? {} };
    content = await renderMessage(deps.templates, d.channel, source, scopeFor(n.payload, subscriberVars, { id: n.id, name: n.name, transactionId: n.transaction_id }));
  } catch (err) {
    // Nothing is sent: a render error is recorded on the delivery and never retried.
    if (err instanceof TemplateError) return fail(err.message);
    throw err;
  }
  const provider = deps.channels.get(d.channel)!;
  try {
    const result = await provider.send({ notificationId: n.id, enterpriseId: n.enterprise_id, workflowKey: wf?.workflow_key ?? 'manual', transactionId: n.transaction_id, recipient: sub, content }, signal);
    await deps.batches.record.add({ ...base, status: 'SENT', provider: result.provider, messageId: result.messageId, content });
    return { recipient: d.recipient, channel: d.channel, status: 'SENT', messageId: result.messageId };
  } catch (err) {
    if (err instanceof PermanentDeliveryError) return fail(err.message);
    // Transient: record the attempt and let the step's retry policy try again.
    await deps.batches.record.add({ ...base, status: 'PENDING', provider: provider.provider, content, error: (err as Error).message });
    throw err;
  }
}

async function forwardOne(deps: NotifyDeps, p: Plan, recipient: string, signal: AbortSignal): Promise<DeliveryOutcome> {
  const n = p.notification!;
  if ((await deps.batches.status.add(n.id)) === 'RETRACTED') return { recipient, channel: 'NOVU', status: 'SKIPPED', error: 'retracted' };
  const result = await deps.novu!.trigger({
    workflowKey: p.workflow!.workflow_key, subscriberId: recipient, payload: n.payload, overrides: n.overrides ?? {},
    transactionId: `${n.transaction_id ?? `nova-${n.id}`}:${recipient}`,
  }, signal);
  return { recipient, channel: 'NOVU', status: 'SENT', messageId: result.transactionId };
}

async function finish(deps: NotifyDeps, id: number, dispatch: number, outcomes: DeliveryOutcome[], previous: PlannedDelivery[]): Promise<{ status: 'SENT' | 'FAILED'; updated: boolean }> {
  const failed = outcomes.filter((o) => o.status === 'FAILED');
  const status = failed.length ? 'FAILED' : 'SENT';
  const details = {
    dispatch,
    results: outcomes,
    alreadySent: previous.filter((d) => d.action === 'done').map((d) => ({ recipient: d.recipient, channel: d.channel })),
    skipped: previous.filter((d) => d.action === 'skip').map((d) => ({ recipient: d.recipient, channel: d.channel, reason: d.reason })),
    digested: previous.filter((d) => d.action === 'digest').length,
    successCount: outcomes.filter((o) => o.status === 'SENT').length,
    failureCount: failed.length,
    // Read by the FAILED poller: a notification whose every failure is permanent is not dispatched again.
    ...(failed.length && { retryable: failed.some((f) => !f.permanent) }),
    ...(failed.length && { error: failed.map((f) => `${f.recipient}/${f.channel}: ${f.error}`).join('; ').slice(0, 2000) }),
    novu_transaction_ids: outcomes.filter((o) => o.channel === 'NOVU' && o.messageId).map((o) => o.messageId),
    timestamp: new Date().toISOString(),
  };
  const updated = await deps.batches.finish.add({ id, status, details });
  return { status, updated };
}

/**
 * The delivery workflow of a process's notify domain. `deps` is read when a run executes (the
 * domain's setup fills it), so the workflow can be declared to the engine before setup runs.
 */
export function deliveryWorkflow(deps: () => NotifyDeps): Workflow<DeliverInput, unknown> {
  return defineWorkflow({ name: DELIVER_WORKFLOW, version: 1, input: deliverInput }, async ({ input, step }) => {
    const d = deps();
    const retry = { maxAttempts: d.config.NOTIFY_DELIVERY_ATTEMPTS, backoffMs: d.config.NOTIFY_RETRY_BASE_MS, multiplier: 2, maxDelayMs: 300_000 };
    const p = await step.run('plan', () => plan(d, input));
    if (p.stop) return { stopped: p.stop };
    const sends = p.deliveries.filter((x) => x.action === 'send');
    const outcomes = await Promise.all(sends.map(async (x): Promise<DeliveryOutcome> => {
      const key = `${x.recipient}:${x.channel}`;
      if (x.notBefore) await step.sleepUntil(`quiet:${key}`, x.notBefore);
      try {
        if (p.workflow?.forward_to_novu) return await step.run(`novu:${x.recipient}`, (signal) => forwardOne(d, p, x.recipient, signal), { retry });
        return await step.run(`send:${key}`, (signal) => sendOne(d, p, x, signal), { retry });
      } catch (err) {
        if (!(err instanceof StepFailed)) throw err;
        const error = err.message;
        // Attempts used up: the delivery is FAILED with its last error.
        return step.run(`failed:${key}`, async () => {
          if (!p.workflow?.forward_to_novu) await d.batches.record.add({ notificationId: input.notificationId, recipient: x.recipient, channel: x.channel, status: 'FAILED', error, attempted: false });
          return { recipient: x.recipient, channel: p.workflow?.forward_to_novu ? 'NOVU' : x.channel, status: 'FAILED', error } as DeliveryOutcome;
        });
      }
    }));
    return step.run('finish', () => finish(d, input.notificationId, input.dispatch, outcomes, p.deliveries));
  });
}
