import { z } from 'zod';
import type { Job } from '../queue/types.ts';
import type { DeadContext, JobContext } from '../runtime/domain.ts';
import { afterCommit, type Queryable } from '../storage/index.ts';
import type { EmailDeps } from './deps.ts';
import { ProviderError, toJobControl } from '../runtime/outbound.ts';
import { withGrant } from './nylas.ts';
import { publishProgress } from './progress.ts';
import { THREAD_QUEUE, threadDedupKey } from './queues.ts';
import * as state from './sync-state.ts';

/**
 * Role `backfill`: discovery. Pages through an inbox's threads in the backfill's window (at most
 * a year), queues the threads not stored yet and their sync jobs, and saves its place after
 * every page in the same transaction, so a crash resumes from the last page with no duplicates.
 * Thread jobs start while discovery goes on. One run of one inbox is discovered by one job
 * lease at a time: each page's transaction confirms the lease (a fence) before writing.
 */

export const backfillJob = z.object({ configId: z.uuid(), run: z.number().int().positive() });
export type BackfillJob = z.infer<typeof backfillJob>;

const EMPTY: state.Checkpoint = { pageToken: null, pages: 0, listed: 0, queued: 0, skipped: 0, oldestSeen: null };

export async function discoverThreads(payload: BackfillJob, ctx: JobContext<BackfillJob, EmailDeps>): Promise<void> {
  const { services, signal, job, log, deps } = ctx;
  const { sql, queue } = services;
  const config = await state.beginDiscovery(sql, payload.configId, payload.run);
  // Already past discovery (a redelivered job), or a newer run replaced this one: nothing to do.
  if (!config) return;
  if (config.inbox_status !== 'active') {
    await services.sql.transaction((tx) => failDiscovery(tx, deps, payload, `inbox is ${config.inbox_status}`));
    return;
  }
  const since = Math.floor(config.backfill_since!.getTime() / 1000);
  const until = Math.floor(config.backfill_until!.getTime() / 1000);
  let checkpoint: state.Checkpoint = config.backfill_checkpoint ?? EMPTY;
  let resumedFromToken = checkpoint.pageToken !== null;
  if (checkpoint.pages > 0) log.info('resuming discovery from its checkpoint', { configId: config.id, pages: checkpoint.pages });

  // The checkpoint waits for a retry; when the job reaches the dead letters, however it gets
  // there, onDiscoveryDead fails the run. A lost lease is not a failure: the new holder carries on.
  for (;;) {
    let page;
    try {
      page = await withGrant(deps, config.grant_id, (c) => c.listThreads(config.grant_id, {
        limit: deps.config.BACKFILL_PAGE_SIZE,
        latestMessageAfter: since,
        // Resuming without a usable page token: restart the window at the oldest thread seen.
        latestMessageBefore: checkpoint.pageToken === null && checkpoint.oldestSeen !== null ? checkpoint.oldestSeen + 1 : until,
        ...(checkpoint.pageToken !== null && { pageToken: checkpoint.pageToken }),
      }, signal));
    } catch (err) {
      // A saved page token the provider no longer accepts: fall back to the time window once.
      if (resumedFromToken && err instanceof ProviderError && err.status === 400) {
        log.warn('saved page token refused; resuming by time window', { configId: config.id, error: err.message });
        checkpoint = { ...checkpoint, pageToken: null };
        resumedFromToken = false;
        continue;
      }
      throw toJobControl(err);
    }
    resumedFromToken = false;
    const oldest = page.data.reduce<number | null>((min, t) => {
      const at = t.latest_message_received_date ?? null;
      return at === null ? min : min === null ? at : Math.min(min, at);
    }, checkpoint.oldestSeen);
    const last = page.nextCursor === null;
    const outcome = await sql.transaction(async (tx) => {
      if (!(await queue.holdsLease(job, tx))) throw new LeaseLost();
      const inserted = await state.queueThreads(tx, config.id, config.grant_id, page.data);
      await queue.sendBatch(THREAD_QUEUE, inserted.map((t) => ({
        payload: { configId: config.id, threadId: t.thread_id },
        dedupKey: threadDedupKey(config.id, t.thread_id),
        groupKey: config.id,
      })), tx);
      // Threads listed but not queued: every message stored already (or listed twice).
      const queued = new Set(inserted.map((t) => t.thread_id));
      const skippedMessages = page.data.reduce((n, t) => (queued.has(t.id) ? n : n + (t.message_ids?.length ?? 0)), 0);
      const next: state.Checkpoint = {
        pageToken: page.nextCursor,
        pages: checkpoint.pages + 1,
        listed: checkpoint.listed + page.data.length,
        queued: checkpoint.queued + inserted.length,
        skipped: checkpoint.skipped + page.data.length - inserted.length,
        skippedMessages: (checkpoint.skippedMessages ?? 0) + skippedMessages,
        oldestSeen: oldest,
      };
      const status = last ? 'thread_sync' : 'discovering';
      if (!(await state.saveCheckpoint(tx, config.id, payload.run, next, status))) return undefined;
      // A crash from here on does not charge this attempt: the next one resumes past this page.
      await ctx.checkpoint(tx);
      // The counters row appears with the first queued thread (the seed's "Monitor Active Syncs"
      // divides by threads_queued); a run that queues nothing gets its row when it completes.
      const counters = inserted.length ? await state.countQueued(tx, config.id, config.inbox_id, inserted.length, status) : undefined;
      if (last) await state.recordHistory(tx, config.id, payload.run, 'discovered', next, services.processId);
      return { next, counters };
    });
    // The run was replaced or finished elsewhere while this page was fetched.
    if (!outcome) return;
    checkpoint = outcome.next;
    publishProgress(deps, config.id, last ? 'thread_sync' : 'discovering', outcome.counters, checkpoint);
    if (last) {
      log.info('discovery finished', { configId: config.id, pages: checkpoint.pages, queued: checkpoint.queued, skipped: checkpoint.skipped });
      return;
    }
  }
}

/** A discovery job reached the dead letters: its run fails in that transaction, keeping its checkpoint. */
export async function onDiscoveryDead(job: Job<unknown>, ctx: DeadContext<EmailDeps>): Promise<void> {
  const parsed = backfillJob.safeParse(job.payload);
  if (parsed.success) await failDiscovery(ctx.tx, ctx.deps, parsed.data, ctx.error.message);
}

class LeaseLost extends Error {
  override name = 'LeaseLost';
  constructor() {
    super('lost the job lease during discovery; the new holder continues');
  }
}

async function failDiscovery(tx: Queryable, deps: EmailDeps, payload: BackfillJob, error: string): Promise<void> {
  if (!(await state.failRun(tx, payload.configId, payload.run, error))) return;
  await state.recordHistory(tx, payload.configId, payload.run, 'failed', { error }, deps.services.processId);
  afterCommit(tx, () => publishProgress(deps, payload.configId, 'failed', undefined, undefined, error));
}
