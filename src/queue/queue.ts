import { afterCommit, type Queryable, type Sql } from '../storage/index.ts';
import { toStoredError } from './backoff.ts';
import type { EventHub, NovaEvent } from './events.ts';
import * as q from './sql.ts';
import type { Job, Lease, PayloadOf, QueueMetrics, SendItem, SendOptions, StoredError, Wake } from './types.ts';

interface JobRow {
  id: number;
  queue: string;
  payload: unknown;
  priority: number;
  attempts: number;
  max_attempts: number;
  group_key: string | null;
  dedup_key: string | null;
  lease_token: number;
  created_at: Date;
  run_at: Date;
  last_error: StoredError | null;
  wake: Wake | null;
  charged: boolean;
}

export interface ClaimOptions {
  limit: number;
  leaseMs: number;
  workerId: string;
  /**
   * How many of the claimed jobs start at once (default: all). Only those are charged an attempt
   * now; the rest are prefetched, and charged by `markStarted` when they start.
   */
  startNow?: number;
  /** Cap on active jobs per group key; jobs of one group beyond it wait, groups take turns. */
  groupConcurrency?: number;
}

/** A claimed job; `charged` is false for a prefetched one whose attempt is not counted yet. */
export interface ClaimedJob<P = unknown> extends Job<P> {
  charged: boolean;
}

/** A lease with the number of the attempt it runs (or will run, for a prefetched job). */
export interface AttemptLease extends Lease {
  attempt: number;
}

export interface FailOptions {
  retryDelayMs: number;
  /** Dead-letter now whatever attempts remain. */
  dead?: boolean;
  /** Who ran the attempt, for its record in the attempt history. */
  workerId?: string;
}

export type FailOutcome = 'retry' | 'dead' | 'lease-lost';

/** An ack: the lease, and what the handler returned (stored with the finished job). */
export interface Ack extends AttemptLease {
  result?: unknown;
}

/**
 * The durable queue: every read and write of nova_jobs and nova_job_results goes through here.
 * Stateless apart from the Sql it is given (which it does not close) and the event hub it
 * reports lifecycle changes to.
 */
/**
 * The channel a cancel of a running job is announced on, to the processes holding jobs (payload a
 * CancelNotice, sent by the cancel statement itself: q.CANCEL). Apart from the event stream, so
 * that a worker process does not have to listen to, and wake for, every event of every process
 * just to hear of its own jobs' cancels.
 */
export const CANCEL_CHANNEL = q.CANCEL_CHANNEL;
export interface CancelNotice {
  queue: string;
  id: number;
}

export class QueueClient {
  constructor(
    readonly sql: Sql,
    private readonly events?: EventHub,
  ) {}

  /** Records a queue and its default max attempts (used by SQL-only producers). */
  async declare(queue: string, maxAttempts: number): Promise<void> {
    await this.sql.query(q.DECLARE_QUEUE, [queue, maxAttempts]);
  }

  /** Enqueues one job; its payload is checked against the queue's type in the JobCatalog. */
  async send<Q extends string>(queue: Q, payload: PayloadOf<Q>, options: SendOptions = {}, db: Queryable = this.sql): Promise<number> {
    const [id] = await this.sendBatch(queue, [{ ...options, payload }], db);
    return id!;
  }

  /**
   * Enqueues many jobs in one statement. Returns their ids in input order; an item whose dedup
   * key is held by a live job gets that job's id. Pass a transaction as `db` to enqueue atomically
   * with the caller's own writes: the `enqueued` event then goes out once that transaction
   * commits, and not at all when it rolls back.
   */
  async sendBatch<Q extends string>(queue: Q, items: readonly SendItem<PayloadOf<Q>>[], db: Queryable = this.sql): Promise<number[]> {
    if (items.length === 0) return [];
    const rows = await db.query<{ id: number; dedup_key: string | null }>(q.SEND_BATCH, [
      queue,
      JSON.stringify(items.map(toInputRow)),
    ]);
    const inserted = rows.map((r) => r.id);
    const hasDedup = items.some((i) => i.dedupKey !== undefined);
    if (!hasDedup && rows.length === items.length) {
      // Without dedup keys every item was inserted, in input order (ids ascend with it).
      inserted.sort((a, b) => a - b);
      this.publish(db, { type: 'enqueued', queue, ids: inserted });
      return inserted;
    }
    return this.resolveDedup(db, queue, items, rows);
  }

  private async resolveDedup<P>(
    db: Queryable,
    queue: string,
    items: readonly SendItem<P>[],
    rows: { id: number; dedup_key: string | null }[],
  ): Promise<number[]> {
    const byKey = new Map<string, number>();
    const plain: number[] = [];
    for (const r of rows) {
      if (r.dedup_key === null) plain.push(r.id);
      else byKey.set(r.dedup_key, r.id);
    }
    plain.sort((a, b) => a - b);
    const inserted = rows.map((r) => r.id);
    const unresolved = () => [...new Set(items.flatMap((i) => (i.dedupKey !== undefined && !byKey.has(i.dedupKey) ? [i.dedupKey] : [])))];
    // A key whose live job finished between the insert's conflict and this lookup is free again:
    // its item is inserted anew (a few times at most, as each try can race another finish).
    for (let round = 0; round < 3 && unresolved().length; round++) {
      const missing = unresolved();
      const live = await db.query<{ id: number; dedup_key: string }>(q.FIND_BY_DEDUP, [queue, missing]);
      for (const r of live) byKey.set(r.dedup_key, r.id);
      const freed = new Set(unresolved());
      if (freed.size === 0) break;
      const again = items.filter((i) => i.dedupKey !== undefined && freed.has(i.dedupKey));
      for (const r of await db.query<{ id: number; dedup_key: string }>(q.SEND_BATCH, [queue, JSON.stringify(again.map(toInputRow))])) {
        byKey.set(r.dedup_key, r.id);
        inserted.push(r.id);
      }
    }
    if (inserted.length) this.publish(db, { type: 'enqueued', queue, ids: inserted });
    let next = 0;
    return items.map((item) => {
      if (item.dedupKey === undefined) return plain[next++]!;
      const id = byKey.get(item.dedupKey);
      if (id === undefined) throw new Error(`dedup key ${item.dedupKey} on ${queue} changed hands during send; send again`);
      return id;
    });
  }

  /**
   * The SQL of a CTE `enqueued` (or `name`) that queues a job per row of the CTE `source` (see
   * sql.enqueueFrom), for a caller that writes its rows and their jobs in one statement. Call
   * `announce` with the ids it returned.
   */
  enqueueFromSql(source: string, payload: string, queueParam: string, runAt?: string, name?: string): string {
    return q.enqueueFrom(source, payload, queueParam, runAt, name);
  }

  /**
   * Publishes the `enqueued` event for jobs inserted by a statement built with enqueueFromSql;
   * pass the transaction it ran in, if any, so the event waits for its commit.
   */
  announce(queue: string, ids: readonly number[], db: Queryable = this.sql): void {
    if (ids.length) this.publish(db, { type: 'enqueued', queue, ids: [...ids] });
  }

  /** Emits an event once the writes it reports are committed (at once outside a transaction). */
  private publish(db: Queryable, event: Omit<NovaEvent, 'at'>): void {
    const events = this.events;
    if (events) afterCommit(db, () => events.emit({ ...event, at: Date.now() }));
  }

  /**
   * Whether `lease` still holds its job. Inside a transaction it also fences: the job cannot be
   * leased to anyone else until that transaction ends, so writes made with it are the holder's.
   */
  async holdsLease(lease: Lease, db: Queryable = this.sql): Promise<boolean> {
    return (await db.query(q.HOLDS_LEASE, [lease.id, lease.token])).length > 0;
  }

  /** The dedup keys among `keys` that a live (queued or active) job of `queue` holds. */
  async liveDedupKeys(queue: string, keys: readonly string[], db: Queryable = this.sql): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const rows = await db.query<{ dedup_key: string }>(q.FIND_BY_DEDUP, [queue, keys]);
    return new Set(rows.map((r) => r.dedup_key));
  }

  /** Leases up to `limit` due jobs, in priority then due-time order, fairly across groups when capped. */
  async claim<P = unknown>(queue: string, options: ClaimOptions): Promise<ClaimedJob<P>[]> {
    const { limit, leaseMs, workerId, groupConcurrency } = options;
    const startNow = options.startNow ?? limit;
    let rows: JobRow[];
    if (groupConcurrency === undefined) {
      rows = await this.sql.query<JobRow>(q.CLAIM, [queue, limit, leaseMs, workerId, startNow]);
    } else {
      rows = await this.sql.transaction(async (tx) => {
        const groups = await tx.query<{ group_key: string }>(q.LOCK_GROUPS, [queue, limit, groupConcurrency]);
        // Each statement charges what is left of `startNow` after the ones before it.
        const charge = (claimed: number) => Math.max(0, startNow - claimed);
        const plain = (n: number, claimed: number) =>
          n > 0 ? tx.query<JobRow>(q.CLAIM_UNGROUPED, [queue, n, leaseMs, workerId, charge(claimed)]) : [];
        // Jobs without a group key take turns as if they were one more group.
        const first = await plain(Math.ceil(limit / (groups.length + 1)), 0);
        const grouped = groups.length
          ? await tx.query<JobRow>(q.CLAIM_GROUPED, [
              queue, limit - first.length, leaseMs, workerId, charge(first.length), groups.map((g) => g.group_key),
              groupConcurrency,
            ])
          : [];
        const rest = await plain(limit - first.length - grouped.length, first.length + grouped.length);
        return [...first, ...grouped, ...rest];
      });
    }
    if (rows.length) this.events?.emit({ type: 'started', queue, ids: rows.map((r) => r.id), at: Date.now() });
    return rows.map(toJob<P>);
  }

  /**
   * Acknowledges finished jobs. Returns the ids accepted; a lease whose token no longer holds
   * its job (it expired and went to another consumer) is refused and left out.
   */
  async complete(
    queue: string, leases: readonly Ack[], keepResults = true, started: readonly AttemptLease[] = [],
  ): Promise<Set<number>> {
    if (leases.length === 0 && started.length === 0) return new Set();
    const rows = await this.sql.query<{ id: number }>(q.COMPLETE, [
      leases.map((l) => l.id),
      leases.map((l) => l.token),
      keepResults,
      leases.map((l) => (l.result === undefined ? null : JSON.stringify(l.result))),
      leases.map((l) => l.attempt),
      started.map((l) => l.id),
      started.map((l) => l.token),
      started.map((l) => l.attempt),
    ]);
    const done = new Set(rows.map((r) => r.id));
    if (done.size) this.events?.emit({ type: 'completed', queue, ids: [...done], at: Date.now() });
    return done;
  }

  /**
   * Records a failed attempt: back to the queue after a delay, or to the dead letters. Pass a
   * transaction as `db` to dead-letter together with the caller's own writes (an onDead hook).
   */
  async fail(
    job: Pick<Job, 'id' | 'token' | 'queue' | 'attempt'>,
    error: unknown,
    options: FailOptions,
    db: Queryable = this.sql,
  ): Promise<FailOutcome> {
    const stored = toStoredError(error, job.attempt);
    const [row] = await db.query<{ outcome: 'retry' | 'dead' }>(q.FAIL, [
      job.id, job.token, JSON.stringify(stored), options.retryDelayMs, options.dead ?? false, job.attempt,
      options.workerId ?? null,
    ]);
    if (!row) return 'lease-lost';
    this.publish(db, { type: row.outcome === 'retry' ? 'failed' : 'dead', queue: job.queue, ids: [job.id], error: stored.message });
    return row.outcome;
  }

  /**
   * Renews leases for another `leaseMs`; returns the ids still held by their tokens, and those
   * of them whose cancel was requested.
   */
  async extend(leases: readonly Lease[], leaseMs: number): Promise<{ held: Set<number>; cancelled: Set<number> }> {
    if (leases.length === 0) return { held: new Set(), cancelled: new Set() };
    const rows = await this.sql.query<{ id: number; cancel_requested: boolean }>(q.EXTEND, [
      leases.map((l) => l.id), leases.map((l) => l.token), leaseMs,
    ]);
    return { held: new Set(rows.map((r) => r.id)), cancelled: new Set(rows.filter((r) => r.cancel_requested).map((r) => r.id)) };
  }

  /** Hands a job back to run after `delayMs` without spending its attempt. False when the lease was lost. */
  async defer(job: AttemptLease & { queue: string }, delayMs: number): Promise<boolean> {
    const [row] = await this.sql.query<{ queue: string }>(q.DEFER, [job.id, job.token, delayMs, job.attempt - 1]);
    // A consumer asleep until its next due job must learn of this one.
    if (row) await this.sql.notify('nova_wake', row.queue);
    return !!row;
  }

  /**
   * Parks a running job until `key` is signalled (see `signal`) or `timeoutMs` passes, without
   * spending its attempt; a parked job holds no lease and no worker slot. Its next run sees
   * what woke it in `job.wake`. False when the lease was lost.
   */
  async park(job: AttemptLease & { queue: string }, key: string, timeoutMs: number | null): Promise<boolean> {
    const rows = await this.sql.query(q.PARK, [job.id, job.token, key, timeoutMs, job.attempt - 1]);
    if (rows.length) this.events?.emit({ type: 'parked', queue: job.queue, ids: [job.id], topic: key, at: Date.now() });
    return rows.length > 0;
  }

  /** Wakes every job parked on `key`, handing each `data`. Returns the ids woken. */
  async signal(key: string, data: unknown = null, db: Queryable = this.sql): Promise<number[]> {
    const rows = await db.query<{ id: number; queue: string }>(q.SIGNAL, [key, JSON.stringify(data ?? null)]);
    await this.announceWoken(rows, db);
    return rows.map((r) => r.id);
  }

  /** Wakes parked jobs whose timeout passed (the maintenance loop calls this). */
  async wakeExpiredParked(limit = 1000): Promise<number> {
    const rows = await this.sql.query<{ id: number; queue: string }>(q.WAKE_EXPIRED_PARKED, [limit]);
    await this.announceWoken(rows, this.sql);
    return rows.length;
  }

  private async announceWoken(rows: readonly { id: number; queue: string }[], db: Queryable): Promise<void> {
    for (const queue of new Set(rows.map((r) => r.queue))) {
      const ids = rows.filter((r) => r.queue === queue).map((r) => r.id);
      this.publish(db, { type: 'enqueued', queue, ids });
      await db.query('select pg_notify($1, $2)', ['nova_wake', queue]);
    }
  }

  /**
   * Cancels a job: a waiting or parked one is finished as `cancelled` at once; a running one is
   * flagged, and its handler's signal aborts (at once through a notification on CANCEL_CHANNEL,
   * otherwise at the holder's next heartbeat). Returns what happened, or null when the job is not
   * live. The `cancelling` / `cancelled` event goes out for watchers as well.
   */
  async cancel(id: number): Promise<'cancelled' | 'cancelling' | null> {
    const error = JSON.stringify({ name: 'JobCancelled', message: `job ${id} was cancelled` });
    const [row] = await this.sql.query<{ outcome: 'cancelled' | 'cancelling'; queue: string }>(q.CANCEL, [id, error]);
    if (!row) return null;
    this.events?.emit({ type: row.outcome, queue: row.queue, ids: [id], at: Date.now() });
    return row.outcome;
  }

  /** Finishes a running job whose handler stopped on a cancel. False when the lease was lost. */
  async finishCancelled(job: Lease & { queue: string; attempt: number }, error: unknown): Promise<boolean> {
    const rows = await this.sql.query(q.FINISH_CANCELLED, [job.id, job.token, JSON.stringify(toStoredError(error, job.attempt))]);
    if (rows.length) this.events?.emit({ type: 'cancelled', queue: job.queue, ids: [job.id], at: Date.now() });
    return rows.length > 0;
  }

  /**
   * Hands leases back without counting the attempt, due at once or after `delayMs`. Returns how
   * many were released.
   */
  async release(leases: readonly AttemptLease[], delayMs = 0): Promise<number> {
    if (leases.length === 0) return 0;
    const rows = await this.sql.query<{ queue: string }>(q.RELEASE, [
      leases.map((l) => l.id), leases.map((l) => l.token), delayMs, leases.map((l) => l.attempt - 1),
    ]);
    for (const queue of new Set(rows.map((r) => r.queue))) await this.sql.notify('nova_wake', queue);
    return rows.length;
  }

  /**
   * Returns expired leases to their queues. Safe to call from every process. `spent`: how many
   * of them had used their last attempt (the next claimer dead-letters those).
   */
  async reapExpired(limit = 1000): Promise<{ returned: number; spent: number }> {
    const rows = await this.sql.query<{ queue: string; spent: boolean }>(q.REAP_EXPIRED, [limit]);
    for (const queue of new Set(rows.map((r) => r.queue))) await this.sql.notify('nova_wake', queue);
    return { returned: rows.length, spent: rows.filter((r) => r.spent).length };
  }

  /**
   * Marks a resume point in the current attempt: if the process dies after it, the lease reaper
   * does not charge the attempt (up to q.MAX_REFUNDS times). Call it in the transaction that saves
   * the job's own resume state; false when the lease is gone.
   */
  async checkpoint(lease: Lease, db: Queryable = this.sql): Promise<boolean> {
    return (await db.query(q.CHECKPOINT, [lease.id, lease.token])).length > 0;
  }

  async progress(lease: Lease & { queue: string }, data: unknown): Promise<boolean> {
    const rows = await this.sql.query(q.PROGRESS, [lease.id, lease.token, JSON.stringify(data ?? null)]);
    if (rows.length) this.events?.emit({ type: 'progress', queue: lease.queue, ids: [lease.id], data, at: Date.now() });
    return rows.length > 0;
  }

  /** Puts dead letters (all of the queue's, or the given ids) back with fresh attempts. */
  async redrive(queue: string, ids?: readonly number[]): Promise<number[]> {
    const rows = await this.sql.query<{ id: number }>(q.REDRIVE, [queue, ids ? [...ids] : null]);
    const redriven = rows.map((r) => r.id);
    if (redriven.length) this.events?.emit({ type: 'enqueued', queue, ids: redriven, at: Date.now() });
    return redriven;
  }

  /** Deletes finished rows beyond the newest `keep`, or older than `maxAgeMs`. */
  async prune(queue: string, state: 'completed' | 'dead' | 'cancelled', keep: number, maxAgeMs: number): Promise<number> {
    const [row] = await this.sql.query<{ n: number }>(q.PRUNE, [queue, state, keep, maxAgeMs]);
    return row?.n ?? 0;
  }

  async queues(): Promise<string[]> {
    return (await this.sql.query<{ name: string }>(q.LIST_QUEUES)).map((r) => r.name);
  }

  async metrics(queue: string): Promise<QueueMetrics> {
    const [r] = await this.sql.query<{
      waiting: number; scheduled: number; scheduled_retry: number; active: number; completed: number; dead: number;
      oldest_waiting_ms: number | null; throughput_per_minute: number; processed_last_hour: number; processed_last_day: number;
    }>(q.METRICS, [queue]);
    return {
      queue, waiting: r!.waiting, scheduled: r!.scheduled, scheduledRetry: r!.scheduled_retry, active: r!.active,
      completed: r!.completed, dead: r!.dead,
      oldestWaitingMs: r!.oldest_waiting_ms === null ? null : Math.round(r!.oldest_waiting_ms),
      throughputPerMinute: Math.round(r!.throughput_per_minute),
      processedLastHour: r!.processed_last_hour, processedLastDay: r!.processed_last_day,
    };
  }

  /**
   * One page of a queue's jobs in a state, newest first (`before`: the last id of the previous
   * page), narrowed by the filters (docs/API.md, job search).
   */
  async listJobs(queue: string, state: JobListState, limit: number, before?: number, filters: JobFilters = {}): Promise<JobRecord[]> {
    return this.sql.query<JobRecord>(q.LIST_JOBS, [
      queue, state, limit, before ?? null,
      filters.payload === undefined ? null : JSON.stringify(filters.payload), filters.error ?? null,
      filters.from ?? null, filters.to ?? null, filters.reason ?? null,
    ]);
  }

  /**
   * Runs a dead, failed (waiting for its retry) or delayed job again now with fresh attempts.
   * False when the job is in none of those states (or a live job holds its dedup key).
   */
  async retryJob(id: number): Promise<boolean> {
    const job = await this.getJob(id);
    const [row] = await this.sql.query<{ id: number }>(q.RETRY_JOB, [id]);
    if (!row || !job) return false;
    this.events?.emit({ type: 'enqueued', queue: job.queue, ids: [id], at: Date.now() });
    await this.sql.notify('nova_wake', job.queue);
    return true;
  }

  /** Deletes a job that is not running (waiting, delayed, finished). False when there is none such. */
  async deleteJob(id: number): Promise<boolean> {
    return (await this.sql.query(q.DELETE_JOB, [id])).length > 0;
  }

  /** Drops per-minute throughput counters older than `maxAgeMs`. */
  async pruneCounters(maxAgeMs: number): Promise<void> {
    await this.sql.query(q.PRUNE_MINUTES, [maxAgeMs]);
  }

  /** When the next queued job of `queue` is due, or null when none is queued. */
  async nextDueAt(queue: string): Promise<Date | null> {
    const [row] = await this.sql.query<{ run_at: Date | null }>(q.NEXT_DUE, [queue]);
    return row?.run_at ?? null;
  }

  async getJob(id: number): Promise<JobRecord | undefined> {
    const [row] = await this.sql.query<JobRecord>(q.GET_JOB, [id]);
    return row;
  }

  /**
   * A job's attempts, oldest first: the recorded ones that did not complete (failed, dead-lettered,
   * lease expired), then the one running or completed now, if any.
   */
  async attemptsOf(job: JobRecord): Promise<AttemptRecord[]> {
    const rows = await this.sql.query<{
      attempt: number; started_at: Date | null; finished_at: Date; worker: string | null; outcome: AttemptRecord['outcome'];
      error: StoredError | null;
    }>(q.ATTEMPTS_OF, [[job.id]]);
    const attempts: AttemptRecord[] = rows.map((r) => ({
      attempt: r.attempt, startedAt: r.started_at, finishedAt: r.finished_at, worker: r.worker, outcome: r.outcome, error: r.error,
    }));
    const last = attempts.at(-1);
    const current = job.state === 'active' || job.state === 'completed';
    // An interrupted attempt was given back, so the one running now carries the same number.
    if (current && job.started_at && (!last || last.attempt < job.attempts || last.outcome === 'interrupted')) {
      attempts.push({
        attempt: job.attempts, startedAt: job.started_at, finishedAt: job.finished_at, worker: job.worker ?? null,
        outcome: job.state === 'active' ? 'running' : 'completed', error: null,
      });
    }
    return attempts;
  }

  /** Drops attempt records older than `maxAgeMs` (the retention of finished jobs). */
  async pruneAttempts(maxAgeMs: number): Promise<void> {
    await this.sql.query(q.PRUNE_ATTEMPTS, [maxAgeMs]);
  }
}

/** One attempt of a job, as the job page shows it. */
export interface AttemptRecord {
  attempt: number;
  startedAt: Date | null;
  /** Null while it runs. */
  finishedAt: Date | null;
  worker: string | null;
  outcome: 'retry' | 'dead' | 'lease-expired' | 'interrupted' | 'running' | 'completed';
  error: StoredError | null;
}

/** The states a job list can show: live jobs split as an operator sees them, and finished ones. */
export type JobListState = 'waiting' | 'scheduled' | 'active' | 'completed' | 'dead';

/** Why a scheduled job is not due: sent with a delay, or waiting for a retry. */
export type ScheduledReason = 'delayed' | 'retry';

export interface JobFilters {
  /** Jobs whose payload contains this JSON (`{"threadId": "t1"}`). */
  payload?: Record<string, unknown>;
  /** Substring of the last error's message, case-insensitive. */
  error?: string;
  /** Created (live) or finished (completed, dead) at or after / before these times. */
  from?: Date;
  to?: Date;
  /** Scheduled jobs only: one reason. */
  reason?: ScheduledReason;
}

/** A job as stored, live or finished (snake_case, as the row comes). */
export interface JobRecord {
  id: number;
  queue: string;
  /** From getJob: queued | active | parked | completed | dead | cancelled; from listJobs: a JobListState. */
  state: 'queued' | 'parked' | 'cancelled' | JobListState;
  /** From listJobs, for scheduled jobs. */
  scheduled_reason?: ScheduledReason | null;
  payload: unknown;
  priority: number;
  attempts: number;
  max_attempts: number;
  group_key: string | null;
  dedup_key: string | null;
  run_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  last_error: StoredError | null;
  progress: unknown;
  /** What the handler returned (getJob, once completed). */
  result?: unknown;
  /** The key a parked job waits for (getJob). */
  signal_key?: string | null;
  /** A cancel was asked of this running job (getJob). */
  cancel_requested?: boolean;
  /** Who holds (live) or ran (finished) it (getJob). */
  worker?: string | null;
}

function toInputRow(item: SendItem): Record<string, unknown> {
  return {
    payload: item.payload ?? null,
    priority: item.priority,
    delay_ms: item.delayMs,
    run_at: item.runAt?.toISOString(),
    max_attempts: item.maxAttempts,
    group_key: item.groupKey,
    dedup_key: item.dedupKey,
  };
}

function toJob<P>(r: JobRow): ClaimedJob<P> {
  return {
    id: r.id,
    queue: r.queue,
    payload: r.payload as P,
    priority: r.priority,
    // A prefetched job's attempt is charged when it starts: it will be the next one.
    attempt: r.charged ? r.attempts : r.attempts + 1,
    charged: r.charged,
    maxAttempts: r.max_attempts,
    groupKey: r.group_key,
    dedupKey: r.dedup_key,
    token: r.lease_token,
    createdAt: r.created_at,
    runAt: r.run_at,
    lastError: r.last_error,
    wake: r.wake,
  };
}
