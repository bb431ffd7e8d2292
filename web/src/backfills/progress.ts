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
}

export function viewOf(row: Progress, event?: BackfillProgressData): BackfillView {
  const view: BackfillView = {
    configId: row.config_id,
    who: row.email ?? row.grant_id ?? row.config_id,
    status: row.backfill_status,
    percent: num(row.percent_complete),
    total: num(row.threads_total),
    completed: num(row.threads_completed),
    failed: num(row.threads_failed),
    messages: num(row.messages_synced),
    startedAt: row.backfill_started_at,
    completedAt: row.backfill_completed_at,
    error: row.backfill_error,
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
