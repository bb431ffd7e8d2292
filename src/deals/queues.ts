import { z } from 'zod';
import type { QueueClient } from '../queue/queue.ts';
import type { Queryable } from '../storage/index.ts';

/** Seed 003's queue names, unchanged. */
export const DAILY_BRIEF_QUEUE = 'daily-brief';
export const DOCUMENT_QUEUE = 'document-processing';
export const EMAIL_QUEUE = 'email-processing';
export const SOURCE_SYNC_QUEUE = 'source-sync';
/** Nova's addition: the scheduled job that queues one brief per active deal (role `scheduler`). */
export const BRIEF_FANOUT_QUEUE = 'daily-brief-fanout';

/**
 * Attempts per queue (the seed's): producers pass them, so a job sent by a process that runs no
 * consumer of its queue (the API) gets the same policy.
 */
export const ATTEMPTS = { [DAILY_BRIEF_QUEUE]: 3, [DOCUMENT_QUEUE]: 3, [EMAIL_QUEUE]: 3, [SOURCE_SYNC_QUEUE]: 5, [BRIEF_FANOUT_QUEUE]: 3 } as const;

export const DOCUMENT_OPERATIONS = ['summarize', 'extract_risks', 'classify'] as const;
export const EMAIL_OPERATIONS = ['analyze_sentiment', 'detect_blocker'] as const;
export const SOURCE_TYPES = ['gdrive', 'sharepoint', 'gmail', 'outlook'] as const;
export type DocumentOperation = (typeof DOCUMENT_OPERATIONS)[number];
export type EmailOperation = (typeof EMAIL_OPERATIONS)[number];
export type SourceType = (typeof SOURCE_TYPES)[number];
export type SyncType = 'full' | 'incremental';

const uuid = z.uuid({ error: 'must be a UUID' });
/** Whether `s` is a real calendar day written YYYY-MM-DD (not 2026-02-30). */
export function isDay(s: unknown): s is string {
  return typeof s === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(s) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s);
}
const isoDay = z.string().refine(isDay, 'must be a date, YYYY-MM-DD');

/** DailyBriefJobData of the original. */
export const dailyBriefJob = z.object({ dealId: uuid, date: isoDay });
export const documentJob = z.object({ documentId: uuid, dealId: uuid, operation: z.enum(DOCUMENT_OPERATIONS) });
export const emailJob = z.object({ emailId: uuid, dealId: uuid, operation: z.enum(EMAIL_OPERATIONS) });
export const sourceSyncJob = z.object({ dealId: uuid, sourceType: z.enum(SOURCE_TYPES), syncType: z.enum(['full', 'incremental']).default('incremental') });
/** The schedule adds `scheduledFor`; a manual trigger may leave it out (then: now). */
export const briefFanoutJob = z.object({ scheduledFor: z.string().optional(), timezone: z.string().optional() });

export type DailyBriefJob = z.infer<typeof dailyBriefJob>;
export type DocumentJob = z.infer<typeof documentJob>;
export type EmailJob = z.infer<typeof emailJob>;
export type SourceSyncJob = z.infer<typeof sourceSyncJob>;
export type BriefFanoutJob = z.infer<typeof briefFanoutJob>;

/** YYYY-MM-DD of `at` in `timezone` (the original used UTC dates under a New York cron). */
export function dayIn(at: Date, timezone = 'UTC'): string {
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/*
 * The producers, with the seed's names. Each dedups while its job is live: sending the same key
 * again returns the queued or running job's id instead of a second job. A finished job frees its
 * key, so a later regeneration (the same day's brief, say) is a new job.
 */

/** The original's job id of a brief, kept as the dedup key. */
export const briefKey = (dealId: string, date: string) => `brief-${dealId}-${date}`;

/** Queues the brief of one deal for `date` (default: today in UTC, as the original). */
export function queueDailyBrief(queue: QueueClient, dealId: string, date = dayIn(new Date()), db?: Queryable): Promise<number> {
  return queue.send(DAILY_BRIEF_QUEUE, { dealId, date }, { dedupKey: briefKey(dealId, date), maxAttempts: ATTEMPTS[DAILY_BRIEF_QUEUE] }, db);
}

export function queueDocumentProcessing(queue: QueueClient, documentId: string, dealId: string, operation: DocumentOperation, db?: Queryable): Promise<number> {
  return queue.send(DOCUMENT_QUEUE, { documentId, dealId, operation }, { dedupKey: `doc-${documentId}-${operation}`, maxAttempts: ATTEMPTS[DOCUMENT_QUEUE] }, db);
}

/** Many document jobs in one statement (a sync page's), each with its dedup key. */
export function queueDocumentBatch(queue: QueueClient, jobs: DocumentJob[], db?: Queryable): Promise<number[]> {
  return queue.sendBatch(DOCUMENT_QUEUE, jobs.map((payload) => ({
    payload, dedupKey: `doc-${payload.documentId}-${payload.operation}`, maxAttempts: ATTEMPTS[DOCUMENT_QUEUE],
  })), db);
}

export function queueEmailProcessing(queue: QueueClient, emailId: string, dealId: string, operation: EmailOperation, db?: Queryable): Promise<number> {
  return queue.send(EMAIL_QUEUE, { emailId, dealId, operation }, { dedupKey: `email-${emailId}-${operation}`, maxAttempts: ATTEMPTS[EMAIL_QUEUE] }, db);
}

/**
 * One live sync per deal and source: a second request while one is queued or running joins it
 * (the original keyed jobs on Date.now(), so every request ran).
 */
export function queueSourceSync(queue: QueueClient, dealId: string, sourceType: SourceType, syncType: SyncType = 'incremental', db?: Queryable): Promise<number> {
  return queue.send(SOURCE_SYNC_QUEUE, { dealId, sourceType, syncType }, { dedupKey: `sync-${dealId}-${sourceType}`, maxAttempts: ATTEMPTS[SOURCE_SYNC_QUEUE] }, db);
}
