/**
 * Role `notifications`: delivers due notifications as runs of `notify.deliver`. A row becomes due
 * (inserted PENDING and published, by the API, SQL or a rule) and the table's trigger queues one
 * `notify.dispatch` job for it at once (dedup key `notification-<id>`, delayed to scheduled_for).
 * The job claims the row, starts the run and executes it at once, under its own lease, as a
 * workflow-runner tick would: no hand-off through a tick job between the two roles. What the run
 * waits for later (a send's retry backoff, quiet hours) comes back as ticks for role
 * workflow-runner. The seed's three pollers stay as the safety net, each a singleton loop that
 * only queues the same deduplicated jobs; the claim in the job (a conditional update) and the
 * run's idempotency key `notification-<id>-<dispatch>` make a second job or a second replica a
 * no-op.
 */
import { RetryLater } from '../queue/errors.ts';
import type { JobContext, LoopContext } from '../runtime/domain.ts';
import { findRun, startRun, tickRun, TICK_QUEUE } from '../workflows/index.ts';
import type { NotifyDeps } from './deps.ts';
import { DELIVER_WORKFLOW } from './deliver.ts';
import * as store from './store.ts';

export const DISPATCH_QUEUE = 'notify.dispatch';
export type DispatchJob = { notificationId: number };

export const dedupKey = (id: number) => `notification-${id}`;

/**
 * Claims the row and starts its run. In a job (`ctx`), ticks the run at once under the job's
 * lease; without one (the API's trigger-async), leaves the run to role workflow-runner.
 */
export async function dispatch(deps: NotifyDeps, job: DispatchJob, ctx?: JobContext<unknown>): Promise<unknown> {
  const { sql } = deps.services;
  // Claims (and run ids below) of the dispatch jobs this process runs at once share a statement.
  const claim = await deps.batches.claim.add(job.notificationId);
  if (!claim) {
    const n = await store.getNotification(sql, job.notificationId);
    // Woken a little early for a scheduled row: come back when it is due.
    if (n?.notification_status === 'PENDING' && n.scheduled_for && n.scheduled_for.getTime() > Date.now()) {
      throw new RetryLater(n.scheduled_for.getTime() - Date.now(), `notification ${n.id} is scheduled for ${n.scheduled_for.toISOString()}`);
    }
    // What an earlier attempt left half done, the row having moved on since: the run's id not
    // written (the write failed, and the run ended before this retry), or a run started but never
    // ticked (the attempt died, and the row was retracted since), which has no tick job: tick it
    // here, and its plan sees the row and stops.
    if (n && n.dispatch_count > 0 && (!n.run_id || n.notification_status === 'RETRACTED')) {
      const run = await findRun(deps.engine, DELIVER_WORKFLOW, `${dedupKey(n.id)}-${n.dispatch_count}`);
      if (run && !n.run_id) await deps.batches.setRun.add({ id: n.id, runId: run.id });
      if (ctx && run?.status === 'queued') await tick(deps, run.id, ctx);
    }
    return { dispatched: false, status: n?.notification_status ?? 'missing' };
  }
  // In a job, no tick job: this job runs the first tick itself. If it dies first, its next
  // attempt finds the row PROCESSING, the same run by its key, and ticks it then.
  const { run, created } = await startRun(deps.engine, DELIVER_WORKFLOW, { notificationId: job.notificationId, dispatch: claim.dispatch }, {
    idempotencyKey: `${dedupKey(job.notificationId)}-${claim.dispatch}`, submittedBy: 'notifications', ...(ctx && { tick: false }),
  });
  // Both settle before the job does: a failed run id write retries the job only once the tick
  // is over, or the retry (the same job, so the run's lease holder) would replay sends this
  // tick has not recorded yet.
  const [setRun, ticked] = await Promise.allSettled([deps.batches.setRun.add({ id: job.notificationId, runId: run.id }), ctx && tick(deps, run.id, ctx)]);
  if (setRun.status === 'rejected') throw setRun.reason;
  if (ticked.status === 'rejected') throw ticked.reason;
  return { dispatched: true, dispatch: claim.dispatch, runId: run.id, created };
}

/**
 * Ticks a run under the dispatch job's lease. Not taken here (another tick holds it, it ended, or
 * this process does not declare its version): a tick for role workflow-runner, which finds what
 * to do, if anything.
 */
async function tick(deps: NotifyDeps, runId: string, ctx: JobContext<unknown>): Promise<void> {
  const outcome = await tickRun(deps.engine, runId, ctx);
  if (outcome.skipped) await deps.services.queue.sendBatch(TICK_QUEUE, [{ payload: { runId } }]);
}

export function dispatchHandler(deps: NotifyDeps) {
  return (payload: DispatchJob, ctx: JobContext<DispatchJob, NotifyDeps>) => dispatch(deps, payload, ctx);
}

async function enqueue(ctx: LoopContext<NotifyDeps>, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await ctx.services.queue.sendBatch(DISPATCH_QUEUE, ids.map((id) => ({ payload: { notificationId: id }, dedupKey: dedupKey(id) })));
}

/** New PENDING/FAILED rows past the cursor (the original's first loop); the cursor lives in notify.poll_cursor. */
export async function pollNewRows(ctx: LoopContext<NotifyDeps>): Promise<number> {
  const { sql } = ctx.services;
  const { POLL_BATCH_SIZE: limit } = ctx.deps.config;
  const cursor = (await store.readCursor(sql, 'new')) ?? { updatedAt: new Date(Date.now() - 86_400_000), lastId: 0 };
  const rows = await store.pollNew(sql, cursor, limit);
  await enqueue(ctx, rows.map((r) => r.id));
  const last = rows.at(-1);
  await store.saveCursor(sql, 'new', last ? { updatedAt: last.updated_at, lastId: last.id } : cursor, rows.length);
  return rows.length;
}

/** FAILED rows whose backoff has passed, that have dispatches left and a failure another try may fix (the original's second loop, bounded). */
export async function pollFailedRows(ctx: LoopContext<NotifyDeps>): Promise<number> {
  const { sql } = ctx.services;
  const c = ctx.deps.config;
  const ids = await store.pollFailed(sql, c.NOTIFY_MAX_DISPATCHES, c.NOTIFY_REDISPATCH_BASE_MS, c.POLL_BATCH_SIZE);
  await enqueue(ctx, ids);
  await touchCursor(ctx, 'failed', ids.length);
  return ids.length;
}

/** PENDING rows whose scheduled_for came (the original's third loop), plus PROCESSING rows left stale by a crash. */
export async function pollScheduledRows(ctx: LoopContext<NotifyDeps>): Promise<number> {
  const { sql } = ctx.services;
  const c = ctx.deps.config;
  const ids = await store.pollScheduled(sql, c.NOTIFY_STALE_PROCESSING_MS, c.POLL_BATCH_SIZE);
  await enqueue(ctx, ids);
  await touchCursor(ctx, 'scheduled', ids.length);
  return ids.length;
}

async function touchCursor(ctx: LoopContext<NotifyDeps>, name: string, rows: number): Promise<void> {
  await store.saveCursor(ctx.services.sql, name, { updatedAt: new Date(), lastId: 0 }, rows);
}
