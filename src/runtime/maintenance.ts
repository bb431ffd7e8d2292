import type { Config } from '../config.ts';
import { sampleDepth } from '../queue/history.ts';
import type { LoopDefinition } from './domain.ts';
import { analyzeGrownTables } from '../storage/statistics.ts';
import { pruneWorkers } from './registry.ts';

/**
 * Upkeep every Nova process runs, whatever its roles:
 * - the lease reaper returns jobs whose holder died to their queue (any process may do it; the
 *   statement skips rows another process is reaping), and wakes parked jobs whose timeout passed;
 * - retention trims finished jobs to the newest NOVA_RETAIN_COMPLETED / NOVA_RETAIN_FAILED per
 *   queue and drops those older than NOVA_RETAIN_MAX_AGE_HOURS (one process at a time), with
 *   old throughput counters and processes long gone from the worker registry;
 * - a sample of every queue's depth each minute (one process at a time), for the charts;
 * - statistics for the planner on `tables` (nova_jobs and the domains' tables) that grew well past
 *   theirs, instead of waiting for autovacuum (one process at a time).
 */
export function maintenanceLoops(config: Config, tables: readonly string[] = ['nova_jobs']): LoopDefinition[] {
  const maxAgeMs = config.NOVA_RETAIN_MAX_AGE_HOURS * 3_600_000;
  return [
    {
      name: 'nova:reap-expired-leases',
      role: 'nova',
      intervalMs: config.NOVA_REAP_INTERVAL_MS,
      async run({ services, log }) {
        const { returned, spent } = await services.queue.reapExpired();
        if (returned) log.warn('returned jobs whose lease expired', { returned, lastAttemptSpent: spent });
        // Parked jobs whose timeout passed run again (their handler sees wake.timedOut).
        await services.queue.wakeExpiredParked();
      },
    },
    {
      // A fresh install's first backlog is claimed, and its growing tables read, with planner
      // statistics rather than a guess or a plan made for an empty table.
      name: 'nova:analyze',
      role: 'nova',
      intervalMs: 2000,
      singleton: true,
      async run({ services, log }) {
        const { analyzed, skipped } = await analyzeGrownTables(services.sql, tables);
        if (analyzed.length) log.info('analyzed tables that outgrew their planner statistics', { tables: analyzed });
        if (skipped.length) log.debug('left tables to analyze next time (locked, or the analysis failed)', { tables: skipped });
      },
    },
    {
      name: 'nova:retention',
      role: 'nova',
      intervalMs: 30_000,
      singleton: true,
      // Nothing is due at start that cannot wait: the first prune runs once the process serves.
      firstRunAfterMs: 10_000,
      async run({ services, log }) {
        let removed = 0;
        for (const queue of await services.queue.queues()) {
          removed += await services.queue.prune(queue, 'completed', config.NOVA_RETAIN_COMPLETED, maxAgeMs);
          removed += await services.queue.prune(queue, 'dead', config.NOVA_RETAIN_FAILED, maxAgeMs);
          removed += await services.queue.prune(queue, 'cancelled', config.NOVA_RETAIN_FAILED, maxAgeMs);
        }
        await services.queue.pruneCounters(86_400_000);
        await services.queue.pruneAttempts(maxAgeMs);
        await pruneWorkers(services.sql);
        if (removed) log.debug('pruned finished jobs', { removed });
      },
    },
    {
      // Queue depth for the dashboard's charts: one sample a minute is all a chart of an hour
      // or a day shows, and one process taking it (by lease) keeps it one row per minute.
      name: 'nova:depth',
      role: 'nova',
      intervalMs: 60_000,
      singleton: true,
      firstRunAfterMs: 10_000,
      async run({ services }) {
        await sampleDepth(services.sql, 86_400_000);
      },
    },
  ];
}
