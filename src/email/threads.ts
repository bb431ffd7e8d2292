import { z } from 'zod';
import { PermanentFailure } from '../queue/errors.ts';
import { Batcher } from '../runtime/batcher.ts';
import type { JobContext, Services } from '../runtime/domain.ts';
import { ProviderError, toJobControl } from '../runtime/outbound.ts';
import { Pacer } from '../runtime/pacer.ts';
import * as wire from './nylas/wire.ts';
import { withGrant } from './nylas.ts';
import { publishProgress } from './progress.ts';
import { storeThreads, type SyncedThread } from './store.ts';
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

interface Synced {
  id: number;
  messages: number;
  synced: SyncedThread;
}

interface ProcessState {
  pacer: Pacer;
  start: Batcher<{ configId: string; threadId: string }, state.ThreadRow | undefined>;
  finish: Batcher<Synced, state.SyncCounters | undefined>;
}

const perProcess = new WeakMap<Services, ProcessState>();

function processState(services: Services): ProcessState {
  let s = perProcess.get(services);
  if (!s) {
    const { sql } = services;
    const start = async (keys: { configId: string; threadId: string }[]) => {
      const rows = await state.startThreads(sql, keys);
      return keys.map((k) => rows.get(`${k.configId}/${k.threadId}`));
    };
    const finish = (items: Synced[]) => sql.transaction(async (tx) => {
      // Issued in this order and pipelined: the backfill's counter row is locked last.
      const [, counters] = await Promise.all([
        storeThreads(tx, items.map((i) => i.synced)),
        state.completeThreads(tx, items.map((i) => ({ id: i.id, messages: i.messages }))),
      ]);
      return items.map((i) => counters.get(i.id));
    });
    s = {
      pacer: new Pacer(services.config.THREAD_DELAY_MS),
      start: new Batcher(start, 200, 1, async (key) => (await start([key]))[0]),
      // A batch that fails is sent again item by item, so one bad thread fails only its own job.
      finish: new Batcher(finish, 200, 2, async (item) => (await finish([item]))[0]),
    };
    perProcess.set(services, s);
  }
  return s;
}

export async function syncThread(payload: ThreadJob, ctx: JobContext): Promise<void> {
  const { services, signal, job } = ctx;
  const shared = processState(services);
  await shared.pacer.wait(signal);

  const row = await shared.start.add(payload);
  // Completed already (the job ran to its commit before a crash), failed, or from a replaced run.
  if (!row) return;
  try {
    const fetchedAt = new Date();
    const listed = wire.thread.safeParse(row.thread);
    const thread = listed.success ? listed.data : await withGrant(services, row.grant_id, (c) => c.getThread(row.grant_id, payload.threadId, signal));
    const messages = await withGrant(services, row.grant_id, (c) => c.listThreadMessages(row.grant_id, payload.threadId, signal));
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
    publishProgress(services, row.config_id, 'thread_sync', counters);
  } catch (err) {
    // Deleted at the provider since discovery: nothing to sync, and retrying will not change that.
    const gone = err instanceof ProviderError && err.isNotFound;
    const control = toJobControl(err);
    const final = gone || control instanceof PermanentFailure || job.attempt >= job.maxAttempts;
    const message = err instanceof Error ? err.message : String(err);
    if (!signal.aborted || final) {
      const counters = await state.failThread(services.sql, row.id, message, final);
      if (final) publishProgress(services, row.config_id, 'thread_sync', counters);
    }
    if (gone) throw new PermanentFailure(`thread ${payload.threadId} no longer exists at the provider`, { cause: err });
    throw control;
  }
}
