/** Queue names of the email domain (the names seed 001 uses, so its monitoring SQL finds them). */
export const WEBHOOK_QUEUE = 'nylas_webhook_notifications';
export const BACKFILL_QUEUE = 'inbox_backfill_jobs';
export const THREAD_QUEUE = 'thread_sync_jobs';

/** One live sync job per thread of a backfill: queueing it twice returns the live job. */
export function threadDedupKey(configId: string, threadId: string): string {
  return `${configId}:${threadId}`;
}

/** The discovery job of one run of a backfill: the completion monitor looks for it by this key. */
export function backfillDedupKey(configId: string, run: number): string {
  return `${configId}:run:${run}`;
}
