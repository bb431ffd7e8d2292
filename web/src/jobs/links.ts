/**
 * Links from a job to the domain objects its payload names, and from those back to their jobs.
 * By payload field, so a new domain's jobs get links by naming their fields the same way.
 */

export interface DomainLink {
  label: string;
  to: string;
}

const search = (queue: string, state: string, field: string, value: string) =>
  `/queues/${encodeURIComponent(queue)}?state=${state}&where=${encodeURIComponent(`${field}=${value}`)}`;

/** The jobs of a backfill's threads that died (the "failed threads" of a backfill). */
export const failedThreadJobs = (configId: string) => search('thread_sync_jobs', 'dead', 'configId', configId);

export function domainLinks(payload: unknown): DomainLink[] {
  if (!payload || typeof payload !== 'object') return [];
  const p = payload as Record<string, unknown>;
  const links: DomainLink[] = [];
  const str = (k: string) => (typeof p[k] === 'string' || typeof p[k] === 'number' ? String(p[k]) : undefined);
  const configId = str('configId');
  if (configId) {
    links.push({ label: `backfill ${configId.slice(0, 8)}…`, to: `/backfills?config=${encodeURIComponent(configId)}` });
  }
  const threadId = str('threadId');
  if (threadId) links.push({ label: `every job of thread ${threadId}`, to: search('thread_sync_jobs', 'completed', 'threadId', threadId) });
  const messageId = str('messageId');
  if (messageId) links.push({ label: `extractions of message ${messageId.slice(0, 8)}…`, to: search('message_extraction_jobs', 'completed', 'messageId', messageId) });
  const notificationId = str('notificationId');
  if (notificationId) links.push({ label: `webhook ${notificationId.slice(0, 8)}…`, to: search('nylas_webhook_notifications', 'completed', 'notificationId', notificationId) });
  return links;
}

/**
 * The top-level payload fields whose values differ between the rows shown, so rows that share a
 * long common prefix (a config id) still show what sets each apart. With one row, its first few.
 */
export function differingFields(payloads: readonly unknown[]): string[] {
  const objects = payloads.filter((p): p is Record<string, unknown> => !!p && typeof p === 'object' && !Array.isArray(p));
  const keys = [...new Set(objects.flatMap((o) => Object.keys(o)))];
  if (objects.length < 2) return keys.slice(0, 3);
  const differ = keys.filter((k) => new Set(objects.map((o) => JSON.stringify(o[k]))).size > 1);
  return differ.length ? differ : keys.slice(0, 2);
}
