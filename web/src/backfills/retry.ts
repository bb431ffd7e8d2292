import { api } from '../api/client.ts';

/** "Retry failed": queues a completed backfill's failed threads again; returns what to tell the user. */
export async function retryFailedThreads(configId: string): Promise<string> {
  const res = await api<{ retried: number; run: number }>('POST', `/api/backfills/${encodeURIComponent(configId)}/retry-failed`);
  return res.retried
    ? `${res.retried} failed thread${res.retried === 1 ? '' : 's'} of run ${res.run} queued again.`
    : 'No failed thread is left to retry.';
}
