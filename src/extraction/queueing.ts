import type { LoopContext } from '../runtime/domain.ts';
import { findUnqueued, insertQueued, touchStaleQueued } from './store.ts';
import { EXTRACTION_QUEUE, type ExtractionJob } from './worker.ts';

export interface QueueingOptions {
  schemaVersion: number;
  /** Messages queued per transaction. */
  batch: number;
  /** Queued rows older than this are sent again (a live job absorbs the send by its dedup key). */
  requeueAfterMs: number;
}

export interface QueueingResult {
  queued: number;
  resent: number;
}

/**
 * One run of `extraction-queue`: queues every live message with no extraction row at the current
 * schema version (new messages from webhooks and backfills, and stale versions), oldest first.
 *
 * Each batch claims its messages with `queued` rows and sends their jobs in the same transaction,
 * so the next run does not see them again, and a crash leaves neither a row without a job nor a
 * job without a row. The dedup key (the message id) keeps a message to one live job even if two
 * holders overlapped; the lease check inside the transaction fences a holder that lost its lease.
 */
export async function queueExtractions(ctx: LoopContext, options: QueueingOptions): Promise<QueueingResult> {
  const { sql, queue } = ctx.services;
  const result: QueueingResult = { queued: 0, resent: 0 };
  for (;;) {
    ctx.signal.throwIfAborted();
    const run = await sql.transaction(async (tx) => {
      if (!(await ctx.confirmLease(tx))) return undefined;
      const candidates = await findUnqueued(tx, options.schemaVersion, options.batch);
      if (candidates.length === 0) return { found: 0, queued: 0 };
      const inserted = await insertQueued(tx, candidates, options.schemaVersion);
      const items = candidates.filter((id) => inserted.has(id)).map((id) => job(id, options.schemaVersion));
      await queue.sendBatch(EXTRACTION_QUEUE, items, tx);
      return { found: candidates.length, queued: items.length };
    });
    if (!run) return result;
    result.queued += run.queued;
    if (run.found < options.batch) break;
  }
  const stale = await touchStaleQueued(sql, options.schemaVersion, options.requeueAfterMs, options.batch);
  if (stale.length) {
    await queue.sendBatch(EXTRACTION_QUEUE, stale.map((id) => job(id, options.schemaVersion)));
    result.resent = stale.length;
  }
  if (result.queued || result.resent) ctx.log.info('queued messages for extraction', { ...result });
  return result;
}

const job = (messageId: string, schemaVersion: number) => ({ payload: { messageId, schemaVersion }, dedupKey: messageId });
