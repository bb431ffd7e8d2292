import type { EventHub } from '../queue/events.ts';
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

/** Running backfills publish at most this often per process; the last update always goes out. */
const THROTTLE_MS = 100;

interface Pending {
  lastAt: number;
  timer: NodeJS.Timeout | undefined;
  data: BackfillProgress | undefined;
}

/** One per process (built by the email domain's setup): the throttle state of each backfill. */
export interface ProgressPublisher {
  events: EventHub;
  throttles: Map<string, Pending>;
}

export function progressPublisher(events: EventHub): ProgressPublisher {
  return { events, throttles: new Map() };
}

/**
 * Publishes a backfill's progress on the runtime's event hub (in this process at once, to every
 * other process through the database), after the change committed. While a backfill runs, a
 * process sends at most one update per THROTTLE_MS (the latest, a trailing one included);
 * completed and failed go out at once.
 */
export function publishProgress(
  deps: { progress: ProgressPublisher }, configId: string, status: BackfillStatus,
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
  const { events, throttles: byConfig } = deps.progress;
  const pending = byConfig.get(configId) ?? { lastAt: 0, timer: undefined, data: undefined };
  byConfig.set(configId, pending);
  const emit = (d: BackfillProgress) => {
    pending.lastAt = Date.now();
    events.emit({ type: BACKFILL_PROGRESS, topic: backfillTopic(configId), data: d, at: pending.lastAt });
  };
  if (status === 'completed' || status === 'failed') {
    clearTimeout(pending.timer);
    byConfig.delete(configId);
    emit(data);
    return;
  }
  const wait = pending.lastAt + THROTTLE_MS - Date.now();
  if (wait <= 0 && !pending.timer) {
    emit(data);
    return;
  }
  pending.data = data;
  pending.timer ??= setTimeout(() => {
    pending.timer = undefined;
    if (pending.data) emit(pending.data);
    pending.data = undefined;
  }, Math.max(0, wait));
  pending.timer.unref();
}
