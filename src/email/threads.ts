import { z } from 'zod';
import { PermanentFailure } from '../queue/errors.ts';
import type { JobContext, Services } from '../runtime/domain.ts';
import { Pacer } from '../runtime/pacer.ts';
import { NylasApiError } from './nylas/client.ts';
import { withGrant } from './nylas.ts';
import { publishProgress } from './progress.ts';
import { storeThread } from './store.ts';
import * as state from './sync-state.ts';

/**
 * Role `threads`: syncs one discovered thread. Fetches the thread and all its messages, stores
 * them, and marks the queued thread completed with the backfill's counters in the same
 * transaction. The per-grant rate limit (shared through the database) paces the calls, so no
 * fixed sleeps are needed; THREAD_DELAY_MS is kept as an optional spacing.
 */

export const threadJob = z.object({ configId: z.uuid(), threadId: z.string().min(1) });
export type ThreadJob = z.infer<typeof threadJob>;

const pacers = new WeakMap<Services, Pacer>();

export async function syncThread(payload: ThreadJob, ctx: JobContext): Promise<void> {
  const { services, signal, job } = ctx;
  const { sql } = services;
  let pacer = pacers.get(services);
  if (!pacer) pacers.set(services, (pacer = new Pacer(services.config.THREAD_DELAY_MS)));
  await pacer.wait(signal);

  const row = await state.startThread(sql, payload.configId, payload.threadId);
  // Completed already (the job ran to its commit before a crash), failed, or from a replaced run.
  if (!row) return;
  try {
    const fetchedAt = new Date();
    const thread = await withGrant(services, row.grant_id, (c) => c.getThread(row.grant_id, payload.threadId, signal));
    const messages = await withGrant(services, row.grant_id, (c) => c.listThreadMessages(row.grant_id, payload.threadId, signal));
    const counters = await sql.transaction(async (tx) => {
      await storeThread(tx, row.inbox_id, thread, messages, fetchedAt);
      return state.completeThread(tx, row.id, messages.length);
    });
    publishProgress(services, row.config_id, 'thread_sync', counters);
  } catch (err) {
    // Deleted at the provider since discovery: nothing to sync, and retrying will not change that.
    const gone = err instanceof NylasApiError && err.isNotFound;
    const final = gone || err instanceof PermanentFailure || job.attempt >= job.maxAttempts;
    const message = err instanceof Error ? err.message : String(err);
    if (!signal.aborted || final) {
      const counters = await state.failThread(sql, row.id, message, final);
      if (final) publishProgress(services, row.config_id, 'thread_sync', counters);
    }
    if (gone) throw new PermanentFailure(`thread ${payload.threadId} no longer exists at the provider`, { cause: err });
    throw err;
  }
}
