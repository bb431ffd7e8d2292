/**
 * Digests: a workflow with `digest: {windowMs, maxEvents}` gathers each subscriber's events per
 * channel (the delivery plan adds them to a bucket and marks the delivery DIGESTED). The
 * `notify-digest` loop flushes due buckets (their window of event time has passed and nothing due
 * in it is left to plan; digest-store.ts): each flush claims the open events and records the
 * digest and its send job in one transaction (rows another replica holds are skipped), so no
 * event is dropped or counted twice across crashes. The `notify.digest` job renders the
 * channel's template with `events` and sends the digest once.
 */
import type { JobContext, LoopContext } from '../runtime/domain.ts';
import type { NotifyDeps } from './deps.ts';
import { claimDigest, dueBuckets, finishDigest, getDigest } from './digest-store.ts';
import { PermanentDeliveryError } from './channels/types.ts';
import * as store from './store.ts';
import { bareSubscriber, getSubscriber } from './subscribers-store.ts';
import { renderMessage, sourceFor, TemplateError } from './templates.ts';

export const DIGEST_QUEUE = 'notify.digest';
export type DigestJob = { digestId: number };

/** Default window of a digest workflow that names none. */
export const DEFAULT_DIGEST_WINDOW_MS = 10_000;

/** Flushes every due bucket (see digest-store.ts for when a window is due); returns the digests made. */
export async function flushDigests(ctx: Pick<LoopContext<NotifyDeps>, 'services'>, limit = 500, maxWaitMs?: number): Promise<number> {
  const { sql, queue } = ctx.services;
  let made = 0;
  for (const key of await dueBuckets(sql, DEFAULT_DIGEST_WINDOW_MS, limit, maxWaitMs)) {
    // A full bucket may hold more than one digest's worth: flush until it is below the threshold.
    for (;;) {
      const digest = await sql.transaction(async (tx) => {
        const d = await claimDigest(tx, key);
        if (d) await queue.send(DIGEST_QUEUE, { digestId: d.id }, { dedupKey: `digest-${d.id}` }, tx);
        return d;
      });
      if (!digest) break;
      made++;
      if (digest.count < key.max_events) break;
    }
  }
  return made;
}

/** Sends one digest (a no-op once it is SENT or FAILED). */
export async function sendDigest(deps: NotifyDeps, job: DigestJob, ctx: Pick<JobContext, 'signal'>): Promise<unknown> {
  const { sql } = deps.services;
  const found = await getDigest(sql, job.digestId);
  if (!found || found.digest.status !== 'PENDING') return { skipped: found?.digest.status ?? 'missing' };
  const { digest, events } = found;
  const wf = await store.workflowById(sql, digest.notification_workflow_id);
  // A recipient with no subscriber row still has an in-app inbox.
  const sub = (await getSubscriber(sql, digest.subscriber_id, digest.enterprise_id)) ?? bareSubscriber(digest.subscriber_id, digest.enterprise_id);
  const provider = deps.channels.get(digest.channel_type);
  if (!wf || !provider || provider.unreachable(sub)) {
    const why = !wf ? 'workflow deleted' : !provider ? `${digest.channel_type} has no provider` : provider.unreachable(sub);
    await finishDigest(sql, digest.id, 'FAILED', null, why);
    return { failed: why };
  }
  const templates = await store.templatesByKey(sql, Object.values(wf.template_overrides ?? {}).filter((k): k is string => !!k), digest.enterprise_id);
  const source = sourceFor(digest.channel_type, null, wf.template_overrides, templates);
  if (!source) {
    await finishDigest(sql, digest.id, 'FAILED', null, `no template for ${digest.channel_type}`);
    return { failed: 'no template' };
  }
  let content;
  try {
    const scope = { events: events.map((e) => e.payload), digest: { count: digest.event_count, id: digest.id }, subscriber: { id: sub.subscriber_id, name: sub.name, email: sub.email } };
    content = await renderMessage(deps.templates, digest.channel_type, source, scope);
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    await finishDigest(sql, digest.id, 'FAILED', null, err.message);
    return { failed: err.message };
  }
  try {
    const result = await provider.send({
      notificationId: events[0]?.notification_id ?? 0, enterpriseId: digest.enterprise_id, workflowKey: wf.workflow_key,
      transactionId: `digest-${digest.id}`, recipient: sub, content,
    }, ctx.signal);
    await finishDigest(sql, digest.id, 'SENT', { ...content, messageId: result.messageId }, null);
    return { sent: true, events: digest.event_count };
  } catch (err) {
    if (err instanceof PermanentDeliveryError) {
      await finishDigest(sql, digest.id, 'FAILED', content, err.message);
      return { failed: err.message };
    }
    throw err;
  }
}
