import type { LoopContext } from '../runtime/domain.ts';
import type { EmailDeps } from './deps.ts';
import { publishProgress } from './progress.ts';
import * as state from './sync-state.ts';

/**
 * Role `completion` (seed 001's CompletionMonitor), two singleton loops:
 * - the monitor recounts every running backfill into inbox_sync_stats and completes those whose
 *   threads are all done, after a second look under a lock on the configuration;
 * - auto-recovery reopens backfills marked completed while threads are still pending.
 * Both hold a lease and confirm it inside the transaction that writes, so a paused former
 * holder cannot act after another process took over.
 *
 * Threads and runs whose jobs died are not this monitor's concern: the queues' onDead hooks
 * (threads.ts, backfill.ts) fail them in the transaction that dead-letters the job, whichever
 * way it died, so no backfill waits on a job that no longer exists.
 */

/**
 * How often the monitor recounts queued_threads into inbox_sync_stats; between recounts it reads
 * the counters the thread statements keep. A recount reads every thread row of every backfill
 * under way: at a 250 ms interval it cost a fifth of PostgreSQL's CPU during a backfill
 * (docs/BENCHMARKS.md). A backfill whose counters say it is done is still completed only after
 * the count under its lock (completeIfDone), so reading counters cannot end one early.
 */
const RECOUNT_EVERY_MS = 5000;

export async function monitorBackfills(ctx: LoopContext<EmailDeps>): Promise<void> {
  const { services, log, deps } = ctx;
  const { sql } = services;
  const recount = Date.now() - deps.monitor.lastRecountAt >= RECOUNT_EVERY_MS;
  if (recount) deps.monitor.lastRecountAt = Date.now();
  const active = await sql.transaction(async (tx) => ((await ctx.confirmLease(tx)) ? (recount ? state.refreshStats(tx) : state.readStats(tx)) : []));
  for (const backfill of active) {
    if (ctx.signal.aborted) return;
    const counters = {
      threads_queued: backfill.total, threads_processing: backfill.processing, threads_completed: backfill.completed,
      threads_failed: backfill.failed, messages_synced: backfill.messages,
    };
    // The seed's progress line, at info while a backfill runs: "[Monitor] Config <id> Progress: 75% (150/200)".
    const finished = backfill.completed + backfill.failed;
    if (backfill.total > 0) {
      log.child('Monitor').info(`Config ${backfill.config_id} Progress: ${Math.floor((finished * 100) / backfill.total)}% (${finished}/${backfill.total})`, { status: backfill.backfill_status });
    }
    if (backfill.backfill_status !== 'thread_sync') continue;
    if (backfill.queued + backfill.processing > 0) {
      publishProgress(deps, backfill.config_id, 'thread_sync', counters);
      continue;
    }
    const done = await sql.transaction(async (tx) => {
      if (!(await ctx.confirmLease(tx))) return undefined;
      return state.completeIfDone(tx, backfill.config_id, services.processId);
    });
    if (done) {
      log.info('backfill completed', {
        configId: backfill.config_id, threads: done.threads_queued, failed: done.threads_failed, messages: done.messages_synced,
      });
      publishProgress(deps, backfill.config_id, 'completed', done);
    }
  }
}

export async function recoverPrematureCompletions(ctx: LoopContext<EmailDeps>): Promise<void> {
  const { services, log, deps } = ctx;
  const reopened = await services.sql.transaction(async (tx) => {
    if (!(await ctx.confirmLease(tx))) return [];
    const rows = await state.reopenPremature(tx);
    for (const r of rows) await state.recordHistory(tx, r.config_id, r.run, 'recovered', { pending: r.pending }, services.processId);
    return rows;
  });
  for (const r of reopened) {
    log.warn('backfill was marked completed with threads still pending: reopened', { configId: r.config_id, pending: r.pending });
    publishProgress(deps, r.config_id, 'thread_sync');
  }
}
