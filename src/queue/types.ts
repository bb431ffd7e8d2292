/**
 * Glossary
 * - job: one unit of work on a named queue, with a JSON payload.
 * - waiting / delayed: a queued job whose run_at has / has not come.
 * - active: a job leased by a consumer; the lease lasts until lease_expires_at and is renewed by
 *   heartbeat while the handler runs.
 * - lease token: a fencing token issued with each lease; ack, retry and extend must present it,
 *   so a holder whose lease expired and was given to someone else cannot touch the job.
 * - retrying: queued again after a failed or expired attempt.
 * - dead letter: a job that used up its attempts (or failed permanently), kept for redrive.
 * - group: jobs sharing a group key; a queue may cap how many of one group run at once.
 */

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
}

export interface Lease {
  id: number;
  token: number;
}

export interface QueueMetrics {
  queue: string;
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  /** Queued again after a failed attempt, waiting for the retry. */
  retrying: number;
  dead: number;
  oldestWaitingMs: number | null;
  /** Jobs finished (completed or dead) in the last 60 s. */
  throughputPerMinute: number;
}

/** Errors are stored as data on the job, never as thrown objects. */
export interface StoredError {
  name: string;
  message: string;
  stack?: string;
  attempt?: number;
}

export interface RetryPolicy {
  maxAttempts: number;
  /** First retry delay; grows by backoffFactor each attempt up to maxDelayMs, with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Growth of the delay per attempt; default 2 (doubling). */
  backoffFactor?: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 300_000 };
