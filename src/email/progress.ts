import type { Services } from '../runtime/domain.ts';
import type { BackfillStatus, Checkpoint, SyncCounters } from './sync-state.ts';

/** The event type every backfill progress update carries; its topic is `backfill:<configId>`. */
export const BACKFILL_PROGRESS = 'backfill.progress';

/** What a progress event says about one backfill; fields the sender does not know are left out. */
export interface BackfillProgress {
  configId: string;
  status: BackfillStatus;
  /** Threads listed by discovery so far. */
  discovered?: number;
  /** Threads queued for sync (all of this run's threads, whatever their state now). */
  queued?: number;
  completed?: number;
  failed?: number;
  messages?: number;
  error?: string;
}

export function backfillTopic(configId: string): string {
  return `backfill:${configId}`;
}

/**
 * Publishes a backfill's progress on the runtime's event hub (in this process at once, to every
 * other process through the database), after the change committed.
 */
export function publishProgress(
  services: Services, configId: string, status: BackfillStatus,
  counters?: SyncCounters, checkpoint?: Checkpoint, error?: string,
): void {
  const data: BackfillProgress = {
    configId,
    status,
    ...(checkpoint && { discovered: checkpoint.listed }),
    ...(counters && {
      queued: counters.threads_queued,
      completed: counters.threads_completed,
      failed: counters.threads_failed,
      messages: counters.messages_synced,
    }),
    ...(error !== undefined && { error }),
  };
  services.events.emit({ type: BACKFILL_PROGRESS, topic: backfillTopic(configId), data, at: Date.now() });
}
