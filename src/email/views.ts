import type { InboxListing, InboxRow, StoredMessage, ThreadListing } from './store.ts';
import type { BackfillRun, FailedThread, SyncProgress } from './sync-state.ts';

/**
 * The API's views of the email domain's rows: camelCase, like every other object the API returns.
 * Tables and SQL keep their snake_case columns (the seed's monitoring SQL reads them), so the
 * names change here, at the HTTP edge, one explicit field at a time: a new column is not exposed
 * until it is named here, and what came from the provider (participants, attachments, the
 * backfill's progress document) passes through as stored.
 */

export function inboxView(row: InboxRow) {
  return { id: row.id, grantId: row.grant_id, email: row.email, provider: row.provider, status: row.status };
}

export function inboxListingView(row: InboxListing) {
  return {
    ...inboxView(row),
    configId: row.config_id,
    backfillStatus: row.backfill_status,
    backfillStartedAt: row.backfill_started_at,
    backfillCompletedAt: row.backfill_completed_at,
    createdAt: row.created_at,
  };
}

/** A row of get_sync_progress. `percent_complete` is numeric (a string from the drivers): sent as a number. */
export function progressView(row: SyncProgress) {
  return {
    configId: row.config_id,
    backfillStatus: row.backfill_status,
    backfillSince: row.backfill_since,
    backfillUntil: row.backfill_until,
    backfillStartedAt: row.backfill_started_at,
    backfillCompletedAt: row.backfill_completed_at,
    threadsTotal: row.threads_total,
    threadsQueued: row.threads_queued,
    threadsProcessing: row.threads_processing,
    threadsCompleted: row.threads_completed,
    threadsFailed: row.threads_failed,
    messagesSynced: row.messages_synced,
    percentComplete: Number(row.percent_complete),
    backfillProgress: row.backfill_progress,
    backfillError: row.backfill_error,
    run: row.run,
    // What discovery listed but did not queue: stored already by an earlier run or by webhooks.
    threadsAlreadySynced: discovered(row.backfill_progress, 'skipped'),
    messagesAlreadySynced: discovered(row.backfill_progress, 'skippedMessages'),
  };
}

function discovered(progress: Record<string, unknown> | null, key: string): number {
  const value = (progress?.discovery as Record<string, unknown> | undefined)?.[key];
  return typeof value === 'number' ? value : 0;
}

/**
 * A finished run whose threads partly failed did not simply complete: its outcome says so.
 * Other outcomes are the run's status.
 */
export function runOutcome(status: string, failed: number | null): string {
  return status === 'completed' && (failed ?? 0) > 0 ? 'completed_with_failures' : status;
}

/** One run of a backfill, as GET /api/backfill-runs lists it. */
export function runView(row: BackfillRun) {
  return {
    configId: row.config_id,
    run: row.run,
    inboxId: row.inbox_id,
    grantId: row.grant_id,
    email: row.email,
    current: row.current,
    status: row.status,
    outcome: runOutcome(row.status, row.threads_failed),
    since: row.since,
    until: row.until,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    error: row.error,
    threadsListed: row.threads_listed,
    threadsAlreadySynced: row.threads_already_synced,
    messagesAlreadySynced: row.messages_already_synced,
    threadsTotal: row.threads_total,
    threadsCompleted: row.threads_completed,
    threadsFailed: row.threads_failed,
    messagesSynced: row.messages_synced,
  };
}

export function failedThreadView(row: FailedThread, deadJobId: number | undefined) {
  return {
    threadId: row.thread_id,
    subject: row.subject,
    error: row.error,
    attempts: row.attempts,
    failedAt: row.failed_at,
    deadJobId: deadJobId ?? null,
  };
}

/** A backfill in the list of all backfills: its progress and its inbox. */
export function backfillView(row: SyncProgress & { grant_id: string; email: string | null }) {
  return { ...progressView(row), grantId: row.grant_id, email: row.email };
}

export function threadView(row: ThreadListing) {
  return {
    id: row.id,
    nylasThreadId: row.nylas_thread_id,
    subject: row.subject,
    snippet: row.snippet,
    participants: row.participants,
    messageIds: row.message_ids,
    unread: row.unread,
    starred: row.starred,
    hasAttachments: row.has_attachments,
    latestMessageReceivedDate: row.latest_message_received_date,
  };
}

export function messageView(row: StoredMessage) {
  return {
    id: row.id,
    nylasMessageId: row.nylas_message_id,
    subject: row.subject,
    fromParticipants: row.from_participants,
    toParticipants: row.to_participants,
    ccParticipants: row.cc_participants,
    date: row.date,
    snippet: row.snippet,
    body: row.body,
    unread: row.unread,
    starred: row.starred,
    folders: row.folders,
    attachments: row.attachments,
  };
}
