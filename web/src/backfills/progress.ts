import type { BackfillProgressData, Progress } from '../api/types.ts';
import { num } from '../format.ts';

/** What a backfill row shows, from the last fetched row and any later progress event. */
export interface BackfillView {
  configId: string;
  who: string;
  status: string;
  percent: number;
  total: number;
  completed: number;
  failed: number;
  messages: number;
  startedAt: string | null;
  completedAt: string | null;
  error: string | null;
  run: number | null;
  /** Threads and messages this run found stored already (a re-run's "already synced"). */
  alreadySynced: number;
  alreadyMessages: number;
}

export function viewOf(row: Progress, event?: BackfillProgressData): BackfillView {
  const view: BackfillView = {
    configId: row.configId,
    who: row.email ?? row.grantId ?? row.configId,
    status: row.backfillStatus,
    percent: num(row.percentComplete),
    total: num(row.threadsTotal),
    completed: num(row.threadsCompleted),
    failed: num(row.threadsFailed),
    messages: num(row.messagesSynced),
    startedAt: row.backfillStartedAt,
    completedAt: row.backfillCompletedAt,
    error: row.backfillError,
    run: row.run ?? null,
    alreadySynced: num(row.threadsAlreadySynced),
    alreadyMessages: num(row.messagesAlreadySynced),
  };
  if (!event) return view;
  // The same arithmetic as get_sync_progress: finished threads over queued ones, 100 once completed.
  const total = event.queued ?? view.total;
  const completed = event.completed ?? view.completed;
  const failed = event.failed ?? view.failed;
  return {
    ...view,
    status: event.status,
    total,
    completed,
    failed,
    messages: event.messages ?? view.messages,
    error: event.error ?? (event.status === 'failed' ? view.error : null),
    percent: event.status === 'completed' ? 100 : total > 0 ? Math.round(((completed + failed) * 10_000) / total) / 100 : 0,
  };
}
