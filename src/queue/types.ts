/**
 * Glossary
 * - job: one unit of work on a named queue, with a JSON payload.
 * - waiting: a queued job whose run_at has come (a retry that is due is waiting again).
 * - scheduled: a queued job whose run_at has not come, for one of two reasons: `delayed` (sent
 *   to run later) or `retry` (failed before, waiting for its next attempt).
 * - active: a job leased by a consumer; the lease lasts until lease_expires_at and is renewed by
 *   heartbeat while the handler runs.
 * - lease token: a fencing token issued with each lease; ack, retry and extend must present it,
 *   so a holder whose lease expired and was given to someone else cannot touch the job.
 * - completed / dead: finished; kept in nova_job_results as far as retention allows.
 * - dead letter: a job that used up its attempts (or failed permanently), kept for redrive.
 * - deferred: handed back by its handler to run later, without spending the attempt.
 * - parked: handed back until a signal (by key) or a deadline; holds no lease and no slot.
 * - cancelled: finished by QueueClient.cancel; a running job's handler sees its signal abort.
 * - group: jobs sharing a group key; a queue may cap how many of one group run at once.
 */

/**
 * The typed catalog of jobs: queue name to payload type. Each domain adds its queues by
 * declaration merging (`declare module '.../queue/types.ts' { interface JobCatalog { ... } }`),
 * so `send('threads', payload)` checks the payload; a queue not in the catalog takes any payload.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface JobCatalog {}

/** The payload type of a queue: from the catalog when it is there. */
export type PayloadOf<Q extends string> = Q extends keyof JobCatalog ? JobCatalog[Q] : unknown;

export interface SendOptions {
  /** Run no sooner than this many milliseconds from now. */
  delayMs?: number;
  /** Run no sooner than this time (wins over delayMs). */
  runAt?: Date;
  /** Higher runs first; default 0. */
  priority?: number;
  /** While a job with this key is queued or active, sending the key again returns that job. */
  dedupKey?: string;
  /** Attempts before the job is dead-lettered; default from the queue's policy, else 3. */
  maxAttempts?: number;
  /** Jobs with the same group key share the queue's per-group concurrency cap. */
  groupKey?: string;
}

export interface SendItem<P = unknown> extends SendOptions {
  payload: P;
}

/** A leased job as a consumer sees it. */
export interface Job<P = unknown> {
  id: number;
  queue: string;
  payload: P;
  priority: number;
  /** This attempt's number, from 1. */
  attempt: number;
  maxAttempts: number;
  groupKey: string | null;
  dedupKey: string | null;
  token: number;
  createdAt: Date;
  runAt: Date;
  /** The previous attempt's error, if any. */
  lastError: StoredError | null;
  /** What woke a parked job (see QueueClient.park): a signal's data, or its timeout. */
  wake: Wake | null;
}

/** Why a parked job runs again. */
export type Wake = { key: string; data: unknown; timedOut?: undefined } | { key: string; timedOut: true; data?: undefined };

export interface Lease {
  id: number;
  token: number;
}

/** A queue's jobs by state (they add up: waiting + scheduled + active = the live jobs). */
export interface QueueMetrics {
  queue: string;
  waiting: number;
  /** Not due yet: delayed or waiting for a retry. */
  scheduled: number;
  /** The part of `scheduled` waiting for a retry after a failed attempt. */
  scheduledRetry: number;
  active: number;
  /** Completed rows kept by retention (NOVA_RETAIN_COMPLETED), not every job ever completed. */
  completed: number;
  dead: number;
  oldestWaitingMs: number | null;
  /** Jobs finished (completed or dead) in the last 60 s. */
  throughputPerMinute: number;
  /** Jobs finished (completed or dead) in the last hour / day, from the per-minute counters. */
  processedLastHour: number;
  processedLastDay: number;
}

/** Errors are stored as data on the job, never as thrown objects. */
export interface StoredError {
  name: string;
  message: string;
  stack?: string;
  attempt?: number;
  /** A system error's code (ECONNREFUSED, ETIMEDOUT). */
  code?: string;
  /** The error's `cause`, stored the same way (what a "fetch failed" hides). */
  cause?: StoredError;
}

export interface RetryPolicy {
  maxAttempts: number;
  /** First retry delay; multiplied by `factor` each attempt up to maxDelayMs. */
  baseDelayMs: number;
  /** Growth per attempt: 2 doubles (1, 2, 4 s); seed 003 uses 5 (5, 25, 125 s). */
  factor: number;
  maxDelayMs: number;
  /** Spread retries of jobs that failed together ("equal jitter"); off gives the exact schedule. */
  jitter: boolean;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 1000, factor: 2, maxDelayMs: 300_000, jitter: true };
