import { z } from 'zod';
import { PermanentFailure } from '../queue/errors.ts';
import { Batcher } from '../runtime/batcher.ts';
import type { Job } from '../queue/types.ts';
import type { DeadContext, JobContext } from '../runtime/domain.ts';
import { ProviderError, toJobControl } from '../runtime/outbound.ts';
import type { EmailDeps } from './deps.ts';
import type { Sql } from '../storage/index.ts';
import * as wire from './nylas/wire.ts';
import { withGrant } from './nylas.ts';
import {
  finishAttempt, finishAttempts, recordRawEnvelope, startAttempt, startAttempts, type AttemptOutcome, type NotificationRow, type NotificationStatus,
} from './webhook-log.ts';
import { upsertMessages, type BatchUpsertOutcome, type MessageWrite } from './message-batches.ts';
import { deleteMessage, findInbox, setInboxStatus, upsertMessage, upsertThread, type InboxRow } from './store.ts';

/**
 * Role `webhooks`: applies one recorded notification to the mailbox copy and records the outcome
 * on its audit row (status, attempts, duration, error). Seed 001's routing, plus what it lacked:
 * versioned writes, so redeliveries and out-of-order deliveries converge on the provider's state.
 *
 * Each notification runs as its own job (its own attempts, retries and audit outcome), but the
 * statements of the notifications a process works on at once go to the database together: one
 * statement starts all their audit rows, one writes all their messages (and one refreshes the
 * threads written to), one records all their outcomes. A notification costs a fraction of a
 * statement instead of six, which is what lets a `webhooks` process keep up with the intake.
 */

/** Nova's job (an audit row to process), or a raw envelope sent by SQL (seed 001's producers). */
export const webhookJob = z.union([z.object({ notificationId: z.uuid() }), wire.webhookEnvelope]);

interface Outcome {
  status: Extract<NotificationStatus, 'processed' | 'ignored'>;
  reason?: string;
}

/** The statements that notifications processed at once share, one set per process (EmailDeps). */
export interface WebhookBatches {
  start: Batcher<string, NotificationRow | undefined>;
  write: Batcher<MessageWrite, BatchUpsertOutcome>;
  finish: Batcher<AttemptOutcome, void>;
}

export function webhookBatches(sql: Sql): WebhookBatches {
  {
    // One batch in flight per statement: items arriving meanwhile make the next batch larger. A
    // failed batch is sent again row by row, so a row that cannot be written fails only its job.
    return {
      start: new Batcher((ids) => startAttempts(sql, ids), 500, 1, (id) => startAttempt(sql, id)),
      write: new Batcher((writes) => upsertMessages(sql, writes), 500, 1, async (w) => (await upsertMessages(sql, [w]))[0]!),
      finish: new Batcher(
        async (outcomes) => {
          await finishAttempts(sql, outcomes);
          return outcomes.map(() => undefined);
        },
        500,
        1,
        (o) => finishAttempt(sql, o.id, o.status, o.message, o.durationMs),
      ),
    };
  }
}

type Ctx = JobContext<z.infer<typeof webhookJob>, EmailDeps>;

export async function processNotification(payload: z.infer<typeof webhookJob>, ctx: Ctx): Promise<void> {
  const { start, finish } = ctx.deps.webhooks;
  const started = performance.now();
  const notificationId = 'notificationId' in payload ? payload.notificationId : await recordRawEnvelope(ctx.services.sql, payload);
  if (notificationId === undefined) return;
  const row = await start.add(notificationId);
  if (!row) throw new PermanentFailure(`audit row ${notificationId} is gone`);
  let outcome: Outcome;
  try {
    outcome = await apply(row.payload, row.received_at, ctx);
  } catch (err) {
    // The row waits for the retry; onNotificationDead moves it to `error` when the job is dead.
    const message = err instanceof Error ? err.message : String(err);
    await finish.add({ id: row.id, status: 'pending', message, durationMs: performance.now() - started });
    throw toJobControl(err);
  }
  await finish.add({ id: row.id, status: outcome.status, message: outcome.reason ?? null, durationMs: performance.now() - started });
}

/** A notification job reached the dead letters: its audit row ends in `error`, in that transaction. */
export async function onNotificationDead(job: Job<unknown>, ctx: DeadContext<EmailDeps>): Promise<void> {
  const parsed = webhookJob.safeParse(job.payload);
  // A raw envelope sent by SQL has its audit row made when it first runs (webhook-log.ts recordRawEnvelope).
  if (parsed.success && 'notificationId' in parsed.data) await finishAttempt(ctx.tx, parsed.data.notificationId, 'error', ctx.error.message, 0);
}

async function apply(envelope: wire.WebhookEnvelope, receivedAt: Date, ctx: Ctx): Promise<Outcome> {
  const { services, signal, deps } = ctx;
  // The provider's time of the change; deliveries without one count as of their arrival.
  const version = envelope.time !== undefined ? new Date(envelope.time * 1000) : receivedAt;
  const object = envelope.data.object;
  switch (envelope.type) {
    case 'message.created':
    case 'message.updated': {
      const message = parseObject(wire.message, object, envelope.type);
      const written = await deps.webhooks.write.add({ message, version });
      if (written === 'no-inbox') return unknownGrant(message.grant_id);
      if (written === 'tie') {
        // Two states with the same provider second: only the provider can say which is current.
        const inbox = await findInbox(services.sql, message.grant_id);
        if (!inbox) return unknownGrant(message.grant_id);
        await syncMessage(deps, inbox, message.id, signal);
      }
      return { status: 'processed', ...(written === 'stale' && { reason: 'older than the stored state' }) };
    }
    case 'message.created.truncated':
    case 'message.updated.truncated': {
      const ref = parseObject(wire.messageRef, object, envelope.type);
      const inbox = await findInbox(services.sql, ref.grant_id);
      if (!inbox) return unknownGrant(ref.grant_id);
      const found = await syncMessage(deps, inbox, ref.id, signal);
      return found ? { status: 'processed' } : { status: 'ignored', reason: 'message no longer exists at the provider' };
    }
    case 'message.deleted': {
      const ref = parseObject(wire.messageDeleted, object, envelope.type);
      const deleted = await deleteMessage(services.sql, ref.grant_id, ref.id, version);
      return deleted ? { status: 'processed' } : { status: 'ignored', reason: 'message not stored or newer state stored' };
    }
    case 'thread.replied': {
      const ref = parseObject(wire.threadReplied, object, envelope.type);
      const inbox = await findInbox(services.sql, ref.grant_id);
      if (!inbox) return unknownGrant(ref.grant_id);
      const fetchedAt = new Date();
      const thread = await withGrant(deps, inbox.grant_id, (c) => c.getThread(inbox.grant_id, ref.thread_id, signal));
      await upsertThread(services.sql, inbox.id, thread, fetchedAt);
      return { status: 'processed' };
    }
    case 'grant.expired':
    case 'grant.deleted':
    case 'grant.updated': {
      const grant = parseObject(wire.grantEvent, object, envelope.type);
      const status = envelope.type === 'grant.expired' ? 'auth_expired' : envelope.type === 'grant.deleted' ? 'deleted' : 'active';
      const known = await setInboxStatus(services.sql, grant.grant_id, status, envelope.type);
      return known ? { status: 'processed' } : unknownGrant(grant.grant_id);
    }
    default:
      return { status: 'ignored', reason: `type ${envelope.type} is not handled` };
  }
}

/** Fetches the message as the provider has it now and stores it; false when it no longer exists. */
async function syncMessage(deps: EmailDeps, inbox: InboxRow, messageId: string, signal: AbortSignal): Promise<boolean> {
  const fetchedAt = new Date();
  try {
    const message = await withGrant(deps, inbox.grant_id, (c) => c.getMessage(inbox.grant_id, messageId, signal));
    await upsertMessage(deps.services.sql, message, fetchedAt);
    return true;
  } catch (err) {
    if (err instanceof ProviderError && err.isNotFound) return false;
    throw err;
  }
}

function unknownGrant(grantId: string): Outcome {
  return { status: 'ignored', reason: `no inbox is connected for grant ${grantId}` };
}

/** A notification whose object is not what its type promises cannot succeed on a retry. */
function parseObject<T extends z.ZodType>(schema: T, object: unknown, type: string): z.infer<T> {
  const result = schema.safeParse(object);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new PermanentFailure(`${type}: unexpected object at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
}
