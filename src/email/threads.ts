import { z } from 'zod';
import { PermanentFailure } from '../queue/errors.ts';
import { Batcher } from '../runtime/batcher.ts';
import type { DeadContext, JobContext } from '../runtime/domain.ts';
import { ProviderError, toJobControl } from '../runtime/outbound.ts';
import type { Job } from '../queue/types.ts';
import { afterCommit, type Sql } from '../storage/index.ts';
import type { EmailConfig } from './config.ts';
import type { EmailDeps } from './deps.ts';
import { Pacer } from '../runtime/pacer.ts';
import * as wire from './nylas/wire.ts';
import { withGrant } from './nylas.ts';
import { publishProgress } from './progress.ts';
import { upsertMessagesCtes } from './message-batches.ts';
import { threadWrites, upsertThreadsCtes, type SyncedThread } from './store.ts';
import * as state from './sync-state.ts';

/**
 * Role `threads`: syncs one discovered thread. Takes the thread as the discovery page listed it
 * (fetching it only when the row has none), fetches all its messages, stores them, and marks the
 * queued thread completed with the backfill's counters in the same transaction. The per-grant
 * rate limit (shared through the database) paces the calls, so no fixed sleeps are needed;
 * THREAD_DELAY_MS is kept as an optional spacing.
 *
 * Thread syncs running together in a process share their database round trips: their claims go
 * in one statement, and their results in one transaction (see Batcher). A batch that fails is
 * sent again item by item, so a bad thread fails only its own job.
 */

export const threadJob = z.object({ configId: z.uuid(), threadId: z.string().min(1) });
export type ThreadJob = z.infer<typeof threadJob>;

/**
 * $1 messages, $2 threads (store.ts's threadWrites), $3 jsonb array of {id, messages}: stores the
 * synced threads with their messages and completes them, counted in their backfills, in one
 * statement (atomic without a transaction: one round trip instead of five). Built from the
 * owners' fragments: message-batches.ts (messages), store.ts (threads), sync-state.ts (the rest).
 */
const STORE_AND_COMPLETE = `
  with ${upsertMessagesCtes('$1')}, ${upsertThreadsCtes('$2')}, ${state.completeThreadsCtes('$3')}
  ${state.COMPLETED_COUNTERS}`;

interface Synced {
  id: number;
  messages: number;
  synced: SyncedThread;
}

/** Per process: the pacer and the batchers that concurrent thread syncs share (EmailDeps). */
export interface ThreadBatches {
  pacer: Pacer;
  start: Batcher<{ configId: string; threadId: string }, state.ThreadRow | undefined>;
  finish: Batcher<Synced, state.SyncCounters | undefined>;
}

export function threadBatches(sql: Sql, config: EmailConfig): ThreadBatches {
  {
    const start = async (keys: { configId: string; threadId: string }[]) => {
      const rows = await state.startThreads(sql, keys);
      return keys.map((k) => rows.get(`${k.configId}/${k.threadId}`));
    };
    const finish = async (items: Synced[]) => {
      const { messages, threads } = threadWrites(items.map((i) => i.synced));
      const rows = await sql.query<state.SyncCounters & { id: number }>(STORE_AND_COMPLETE, [
        JSON.stringify(messages), JSON.stringify(threads), JSON.stringify(items.map((i) => ({ id: i.id, messages: i.messages }))),
      ]);
      const counters = new Map(rows.map(({ id, ...c }) => [id, c]));
      return items.map((i) => counters.get(i.id));
    };
    return {
      pacer: new Pacer(config.THREAD_DELAY_MS),
      start: new Batcher(start, 200, 1, async (key) => (await start([key]))[0]),
      // A batch that fails is sent again item by item, so one bad thread fails only its own job.
      finish: new Batcher(finish, 200, 2, async (item) => (await finish([item]))[0]),
    };
  }
}

export async function syncThread(payload: ThreadJob, ctx: JobContext<ThreadJob, EmailDeps>): Promise<void> {
  const { services, signal, deps } = ctx;
  const shared = deps.threads;
  await shared.pacer.wait(signal);

  const row = await shared.start.add(payload);
  // Completed already (the job ran to its commit before a crash), failed, or from a replaced run.
  if (!row) return;
  try {
    const fetchedAt = new Date();
    const listed = wire.thread.safeParse(row.thread);
    const thread = listed.success ? listed.data : await withGrant(deps, row.grant_id, (c) => c.getThread(row.grant_id, payload.threadId, signal));
    const messages = await withGrant(deps, row.grant_id, (c) => c.listThreadMessages(row.grant_id, payload.threadId, signal));
    // A message that arrived after the listing is part of the thread too.
    const ids = [...new Set([...thread.message_ids, ...messages.map((m) => m.id)])];
    const counters = await shared.finish.add({
      id: row.id,
      messages: messages.length,
      synced: {
        inboxId: row.inbox_id, thread: { ...thread, message_ids: ids }, messages, version: fetchedAt,
        ...(listed.success && { threadVersion: row.queued_at }),
      },
    });
    publishProgress(deps, row.config_id, 'thread_sync', counters);
  } catch (err) {
    // The row waits for the retry; the last failure (however the job dies) is onThreadDead's.
    if (!signal.aborted) await state.failThread(services.sql, row.id, err instanceof Error ? err.message : String(err), false);
    // Deleted at the provider since discovery: nothing to sync, and retrying will not change that.
    if (err instanceof ProviderError && err.isNotFound) {
      throw new PermanentFailure(`thread ${payload.threadId} no longer exists at the provider`, { cause: err });
    }
    throw toJobControl(err);
  }
}

/**
 * A thread sync job reached the dead letters (attempts used up, a permanent error, or its holder
 * died during the last attempt): its queued thread is marked failed in the same transaction, so
 * the backfill can complete.
 */
export async function onThreadDead(job: Job<unknown>, ctx: DeadContext<EmailDeps>): Promise<void> {
  const parsed = threadJob.safeParse(job.payload);
  if (!parsed.success) return;
  const counters = await state.failThreadByKey(ctx.tx, parsed.data.configId, parsed.data.threadId, ctx.error.message);
  if (counters) afterCommit(ctx.tx, () => publishProgress(ctx.deps, parsed.data.configId, 'thread_sync', counters));
}
