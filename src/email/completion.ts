import type { LoopContext } from '../runtime/domain.ts';
import { publishProgress } from './progress.ts';
import { BACKFILL_QUEUE, THREAD_QUEUE, backfillDedupKey, threadDedupKey } from './queues.ts';
import * as state from './sync-state.ts';

/**
 * Role `completion` (seed 001's CompletionMonitor), two singleton loops:
 * - the monitor recounts every running backfill into inbox_sync_stats and completes those whose
 *   threads are all done, after a second look under a lock on the configuration;
 * - auto-recovery reopens backfills marked completed while threads are still pending.
 * Both hold a lease and confirm it inside the transaction that writes, so a paused former
 * holder cannot act after another process took over.
 */

/** Pending threads checked per backfill and run for a lost sync job. */
const ORPHAN_SCAN = 1000;

/** Per process: each backfill's finished-thread count at the last run, to notice a stall. */
const lastDone = new Map<string, number>();

/**
 * How often the monitor recounts queued_threads into inbox_sync_stats; between recounts it reads
 * the counters the thread statements keep. A recount reads every thread row of every backfill
 * under way: at a 250 ms interval it cost a fifth of PostgreSQL's CPU during a backfill
 * (docs/BENCHMARKS.md). A backfill whose counters say it is done is still completed only after
 * the count under its lock (completeIfDone), so reading counters cannot end one early.
 */
const RECOUNT_EVERY_MS = 5000;
const lastRecount = new WeakMap<object, number>();

export async function monitorBackfills(ctx: LoopContext): Promise<void> {
  const { services, log } = ctx;
  const { sql } = services;
  await failLostDiscoveries(ctx);
  const recount = Date.now() - (lastRecount.get(services) ?? 0) >= RECOUNT_EVERY_MS;
  if (recount) lastRecount.set(services, Date.now());
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
      // Only a backfill that made no progress since the last run is checked for lost jobs.
      const done = backfill.completed + backfill.failed;
      if (lastDone.get(backfill.config_id) === done) await failOrphans(ctx, backfill.config_id);
      lastDone.set(backfill.config_id, done);
      publishProgress(services, backfill.config_id, 'thread_sync', counters);
      continue;
    }
    const done = await sql.transaction(async (tx) => {
      if (!(await ctx.confirmLease(tx))) return undefined;
      return state.completeIfDone(tx, backfill.config_id, services.processId);
    });
    if (done) {
      lastDone.delete(backfill.config_id);
      log.info('backfill completed', {
        configId: backfill.config_id, threads: done.threads_queued, failed: done.threads_failed, messages: done.messages_synced,
      });
      publishProgress(services, backfill.config_id, 'completed', done);
    }
  }
}

/**
 * Threads left queued or processing whose sync job no longer exists (it was dead-lettered after
 * its attempts ran out in processes that died mid-attempt) would hold the backfill open for
 * ever: they are marked failed with the reason.
 */
async function failOrphans(ctx: LoopContext, configId: string): Promise<void> {
  const { sql, queue } = ctx.services;
  const pending = await state.pendingThreads(sql, configId, ORPHAN_SCAN);
  const live = await queue.liveDedupKeys(THREAD_QUEUE, pending.map((t) => threadDedupKey(configId, t.thread_id)));
  const orphans = pending.filter((t) => !live.has(threadDedupKey(configId, t.thread_id)));
  for (const orphan of orphans) {
    await sql.transaction(async (tx) => {
      if (!(await ctx.confirmLease(tx))) return;
      // Looked at again here: a job that finished in between has moved the row on already.
      await state.failThread(tx, orphan.id, 'its sync job ended without finishing (attempts used up by processes that stopped)', true);
    });
    ctx.log.warn('thread without a live sync job marked failed', { configId, threadId: orphan.thread_id });
  }
}

/**
 * A run queued or discovering whose discovery job no longer exists (dead-lettered after its
 * attempts ran out in processes that stopped mid-attempt, or deleted by an operator) would hold
 * the inbox for ever (a new backfill is refused while one is under way): it is marked failed,
 * keeping its checkpoint; retrying the dead job resumes it.
 */
async function failLostDiscoveries(ctx: LoopContext): Promise<void> {
  const { sql, queue, processId } = ctx.services;
  const runs = await state.discoveringRuns(sql);
  if (runs.length === 0) return;
  const live = await queue.liveDedupKeys(BACKFILL_QUEUE, runs.map((r) => backfillDedupKey(r.config_id, r.run)));
  for (const r of runs.filter((r) => !live.has(backfillDedupKey(r.config_id, r.run)))) {
    const error = 'its discovery job ended without finishing (attempts used up by processes that stopped, or deleted)';
    const failed = await sql.transaction(async (tx) => {
      if (!(await ctx.confirmLease(tx)) || !(await state.failRun(tx, r.config_id, r.run, error))) return false;
      await state.recordHistory(tx, r.config_id, r.run, 'failed', { error }, processId);
      return true;
    });
    if (failed) {
      ctx.log.warn('backfill without a live discovery job marked failed', { configId: r.config_id, run: r.run });
      publishProgress(ctx.services, r.config_id, 'failed', undefined, undefined, error);
    }
  }
}

export async function recoverPrematureCompletions(ctx: LoopContext): Promise<void> {
  const { services, log } = ctx;
  const reopened = await services.sql.transaction(async (tx) => {
    if (!(await ctx.confirmLease(tx))) return [];
    const rows = await state.reopenPremature(tx);
    for (const r of rows) await state.recordHistory(tx, r.config_id, r.run, 'recovered', { pending: r.pending }, services.processId);
    return rows;
  });
  for (const r of reopened) {
    log.warn('backfill was marked completed with threads still pending: reopened', { configId: r.config_id, pending: r.pending });
    publishProgress(services, r.config_id, 'thread_sync');
  }
}
