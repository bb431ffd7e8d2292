/**
 * The claim / run / ack loop of one queue in one process. It knows no SQL: the storage side comes
 * in as a `ConsumerSource`, so the loop is testable on its own.
 *
 * Throughput comes from batching both ends: jobs are claimed `batchSize` at a time into a local
 * buffer (prefetch) and run `concurrency` at a time; acknowledgements made in the same tick go to
 * the database together. Leases of buffered and running jobs are renewed by one heartbeat.
 *
 * With `batchSize: 'auto'` the claim size adapts: it grows while claims come back full and the
 * handlers are quick (a backlog of short jobs wants few, large round trips), and shrinks to what
 * the handlers get through in a short horizon when they are slow (long jobs prefetched in bulk
 * would wait in this buffer while another replica sits idle).
 */

import { JobCancelled } from '../queue/errors.ts';
import { Batcher } from './batcher.ts';

export interface LeasedJob {
  id: number;
  token: number;
  /** The attempt this run is (or will be, for a prefetched job). */
  attempt: number;
  /** Whether the attempt is counted in the database yet: false while a claimed job waits in the buffer. */
  charged: boolean;
}

/** How a job's run ended, as counted and labelled in metrics. */
export type Outcome =
  | 'completed'
  /** Failed; queued again for a later attempt. */
  | 'retry'
  | 'dead'
  /** Handed back by its handler without spending the attempt (Defer), or parked until a signal. */
  | 'deferred'
  | 'parked'
  | 'cancelled'
  /** Handed back at shutdown, unfinished. */
  | 'shutdown'
  /** Its lease had gone to another consumer before the ack or failure was recorded. */
  | 'lease-lost';

export interface ConsumerSource<J extends LeasedJob> {
  /**
   * Claims up to `limit` jobs; the first `startNow` start at once and are charged an attempt by
   * the claim, the rest wait in the buffer uncharged (a crash then costs them nothing).
   */
  claim(limit: number, startNow: number): Promise<J[]>;
  /**
   * Acks with each job's result, and charges the attempts of buffered jobs that started (one
   * round trip for both); returns the ids acked (the rest had lost their lease).
   */
  complete(acks: { job: J; result: unknown }[], started: J[]): Promise<Set<number>>;
  /** Settles a handler that threw (retry, dead letter, defer, park, cancel): returns what happened. */
  fail(job: J, error: unknown): Promise<Outcome>;
  /** Renews leases; returns the ids still held and those whose cancel was requested. */
  extend(jobs: J[]): Promise<{ held: Set<number>; cancelled: Set<number> }>;
  /** Hands leases back without counting an attempt. */
  release(jobs: J[]): Promise<void>;
  /** Milliseconds until the next queued job is due, or null when none is queued. */
  nextDueInMs(): Promise<number | null>;
}

/** What the settle statement carries: an ack with its result, or the start of a buffered job. */
type Settle<J> = { job: J; result: unknown } | { job: J; started: true };

export interface ConsumerOptions {
  concurrency: number;
  /** Jobs claimed per round trip, or 'auto' to adapt it to backlog and handler speed. */
  batchSize: number | 'auto';
  /** Longest sleep without a wake-up; the fallback when notifications are lost. */
  pollIntervalMs: number;
  heartbeatMs: number;
  /** Abort a handler that runs longer than this. */
  timeoutMs?: number;
}

/** Runs one job's handler; resolves with its result. */
export type RunJob<J> = (job: J, abort: JobAbort) => Promise<unknown>;

/**
 * A job's abort switch. The AbortController behind its signal is made only when the handler
 * asks for the signal: most handlers never do, and a controller per job was a measurable share
 * of a short job's cost.
 */
export class JobAbort {
  private controller: AbortController | undefined;
  private why: unknown;
  private done = false;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.done) this.controller.abort(this.why);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.done;
  }

  get reason(): unknown {
    return this.why;
  }

  abort(reason: unknown): void {
    if (this.done) return;
    this.done = true;
    this.why = reason;
    this.controller?.abort(reason);
  }
}

export interface ConsumerHooks<J> {
  onError?: (err: unknown, where: string) => void;
  onSettled?: (job: J, outcome: Outcome, ms: number) => void;
}

export interface ConsumerStats {
  running: number;
  buffered: number;
  /** The claim size in use (fixed, or where the adaptive one stands). */
  batchSize: number;
  outcomes: Record<Outcome, number>;
  lastPollAt: number | null;
  idle: boolean;
}

/** Adaptive claim sizes stay within these bounds. */
const AUTO_MAX_BATCH = 500;
/** Prefetch what the handlers get through in about this long; no more. */
const AUTO_HORIZON_MS = 200;

export class ShutdownAbort extends Error {
  override name = 'ShutdownAbort';
}

function zeroOutcomes(): Record<Outcome, number> {
  return { completed: 0, retry: 0, dead: 0, deferred: 0, parked: 0, cancelled: 0, shutdown: 0, 'lease-lost': 0 };
}

export class Consumer<J extends LeasedJob> {
  private buffer: J[] = [];
  private readonly running = new Map<number, { job: J; abort: JobAbort }>();
  // Acks, and the attempt charges of buffered jobs that started, share one statement per round
  // trip. Bounded, so one statement never holds row locks for long however far acks fell behind.
  // Handlers do not wait for their charge: a crash in that round trip leaves one attempt
  // uncounted, which is the side to err on.
  private readonly acks = new Batcher<Settle<J>, boolean>((items) => this.completeBatch(items), 1000);
  private claiming = false;
  /** Jobs whose ack or failure is being recorded: still ours, so the heartbeat keeps their leases. */
  private readonly settling = new Map<number, J>();
  /** Set when stop() stops waiting for settling statements: they are tried once more, then dropped. */
  private abandoned = false;
  private wakeRequested = false;
  private idle = false;
  private stopping = false;
  private sleepTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private drained: (() => void) | undefined;
  private readonly counts = zeroOutcomes();
  private lastPollAt: number | null = null;
  /** The adaptive claim size, and a moving average of handler durations that steers it. */
  private batch: number;
  private avgRunMs: number | undefined;
  private avgClaimMs: number | undefined;

  constructor(
    private readonly source: ConsumerSource<J>,
    private readonly run: RunJob<J>,
    private readonly options: ConsumerOptions,
    private readonly hooks: ConsumerHooks<J> = {},
  ) {
    this.batch = options.batchSize === 'auto' ? Math.max(1, options.concurrency) : options.batchSize;
  }

  start(): void {
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.options.heartbeatMs);
    this.heartbeatTimer.unref();
    this.pump();
  }

  /** Work may be waiting (a notification arrived): claim now instead of at the next poll. */
  wake(): void {
    if (this.stopping) return;
    this.idle = false;
    if (this.claiming) this.wakeRequested = true;
    this.pump();
  }

  stats(): ConsumerStats {
    return {
      running: this.running.size,
      buffered: this.buffer.length,
      batchSize: this.batch,
      outcomes: { ...this.counts },
      lastPollAt: this.lastPollAt,
      idle: this.idle,
    };
  }

  /**
   * A cancel notice: aborts the job's running handler, or finishes a job still in the buffer as
   * cancelled without running it (as the heartbeat does). False when the job is not held here.
   */
  abortJob(id: number, reason: Error): boolean {
    const entry = this.running.get(id);
    if (entry) {
      entry.abort.abort(reason);
      return true;
    }
    const at = this.buffer.findIndex((j) => j.id === id);
    if (at < 0) return false;
    const [job] = this.buffer.splice(at, 1);
    void this.source.fail(job!, new JobCancelled(id)).then(
      (outcome) => this.counts[outcome]++,
      (err: unknown) => this.hooks.onError?.(err, 'cancel'),
    );
    return true;
  }

  /**
   * Stops claiming, hands back prefetched jobs at once, lets running jobs finish until
   * `deadlineMs`, then aborts and hands back whatever still runs.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.sleepTimer);
    const unstarted = this.buffer;
    this.buffer = [];
    await this.safely('release', () => this.source.release(unstarted));
    if (this.running.size > 0) {
      const done = new Promise<void>((resolve) => (this.drained = resolve));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs)));
      const outcome = await Promise.race([done, late]);
      clearTimeout(timer);
      if (outcome === 'late') {
        const left = [...this.running.values()];
        for (const r of left) r.abort.abort(new ShutdownAbort('shutting down'));
        await this.safely('release', () => this.source.release(left.map((r) => r.job)));
      }
    }
    // Acks still being recorded get the rest of the deadline; then one last try, and whatever did
    // not commit is left to its lease (the job runs again elsewhere: at-least-once).
    const timeout = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
    await Promise.race([this.acks.idle(), timeout(deadlineMs)]);
    this.abandoned = true;
    await Promise.race([this.acks.idle(), timeout(2000)]);
    clearInterval(this.heartbeatTimer);
  }

  /**
   * A forced stop (a second Ctrl-C): hands every held lease back at once, running jobs included,
   * so other processes can take them without waiting for the leases to expire. Handlers are
   * aborted; the process is about to exit.
   */
  async abandon(): Promise<void> {
    this.stopping = true;
    this.abandoned = true;
    clearTimeout(this.sleepTimer);
    clearInterval(this.heartbeatTimer);
    const held = [...this.buffer, ...[...this.running.values()].map((r) => r.job)];
    this.buffer = [];
    for (const r of this.running.values()) r.abort.abort(new ShutdownAbort('forced stop'));
    await this.safely('release', () => this.source.release(held));
  }

  private pump(): void {
    if (this.stopping) return;
    while (this.running.size < this.options.concurrency && this.buffer.length > 0) {
      this.begin(this.buffer.shift()!);
    }
    const { concurrency } = this.options;
    const batchSize = this.batch;
    const held = this.running.size + this.buffer.length;
    // Claim again while the buffer still holds half a batch, or what the handlers get through
    // during one claim's round trip if that is more (quick jobs), so they never wait for it.
    const half = Math.max(1, Math.ceil(batchSize / 2));
    const lowWater = Math.max(half, Math.min(batchSize, this.coveringClaim()));
    const cap = concurrency + batchSize + (lowWater - half);
    if (!this.claiming && !this.idle && this.buffer.length < lowWater && held < cap) {
      void this.claim(Math.min(batchSize, cap - held));
    }
  }

  /** Jobs the handlers finish during one claim round trip, with a margin: 0 until both are measured. */
  private coveringClaim(): number {
    if (this.avgRunMs === undefined || this.avgClaimMs === undefined) return 0;
    return Math.ceil((1.5 * this.avgClaimMs * this.options.concurrency) / this.avgRunMs);
  }

  private async claim(limit: number): Promise<void> {
    this.claiming = true;
    this.wakeRequested = false;
    let jobs: J[] = [];
    try {
      // Jobs that will find a free slot when the claim returns (the buffer goes first).
      const startNow = Math.max(0, this.options.concurrency - this.running.size - this.buffer.length);
      const t0 = performance.now();
      jobs = await this.source.claim(limit, startNow);
      const took = performance.now() - t0;
      this.avgClaimMs = this.avgClaimMs === undefined ? took : this.avgClaimMs * 0.8 + took * 0.2;
      this.lastPollAt = Date.now();
    } catch (err) {
      this.hooks.onError?.(err, 'claim');
      this.claiming = false;
      this.sleep(Math.min(this.options.pollIntervalMs, 1000));
      return;
    }
    this.claiming = false;
    if (this.stopping) {
      await this.safely('release', () => this.source.release(jobs));
      return;
    }
    this.adapt(jobs.length, limit);
    // Charged jobs first: they are the ones counted as starting now.
    for (const job of jobs) if (job.charged) this.buffer.push(job);
    for (const job of jobs) if (!job.charged) this.buffer.push(job);
    if (jobs.length < limit && !this.wakeRequested) {
      this.idle = true;
      void this.sleepUntilDue();
    }
    this.pump();
  }

  /**
   * Steers the adaptive claim size: doubles while claims come back full (a backlog) up to what
   * the handlers finish within AUTO_HORIZON_MS, and falls back towards `concurrency` when they
   * come back short (the backlog is gone: large claims would only cost latency).
   */
  private adapt(got: number, asked: number): void {
    if (this.options.batchSize !== 'auto') return;
    const { concurrency } = this.options;
    // Until a handler has finished, nothing says how long jobs take: stay at `concurrency`.
    const perJob = this.avgRunMs ?? AUTO_HORIZON_MS;
    const ceiling = Math.min(AUTO_MAX_BATCH, Math.max(concurrency, Math.ceil((concurrency * AUTO_HORIZON_MS) / perJob)));
    if (got >= asked) this.batch = Math.min(ceiling, this.batch * 2);
    else this.batch = Math.max(concurrency, Math.min(ceiling, Math.ceil(this.batch / 2)));
  }

  /** Sleeps until the next delayed job is due, a wake-up, or the poll interval, whichever is first. */
  private async sleepUntilDue(): Promise<void> {
    let due: number | null = null;
    try {
      due = await this.source.nextDueInMs();
    } catch (err) {
      this.hooks.onError?.(err, 'next-due');
    }
    if (!this.idle) return; // woken meanwhile
    this.sleep(due === null ? this.options.pollIntervalMs : Math.min(this.options.pollIntervalMs, Math.max(due, 1)));
  }

  private sleep(ms: number): void {
    clearTimeout(this.sleepTimer);
    this.idle = true;
    this.sleepTimer = setTimeout(() => this.wake(), ms);
    this.sleepTimer.unref();
  }

  private begin(job: J): void {
    if (!job.charged) {
      job.charged = true;
      void this.acks.add({ job, started: true });
    }
    const abort = new JobAbort();
    this.running.set(job.id, { job, abort });
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    if (this.options.timeoutMs) {
      timer = setTimeout(
        () => abort.abort(new Error(`job ${job.id} timed out after ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
    }
    const settle = async (): Promise<Outcome> => {
      let result: unknown;
      try {
        result = await this.run(job, abort);
      } catch (err) {
        if (abort.aborted && abort.reason instanceof ShutdownAbort) return 'shutdown';
        // An abort's reason (timeout, cancel, lost lease) says more than what the handler threw.
        return this.failPersistently(job, abort.aborted ? (abort.reason ?? err) : err);
      } finally {
        clearTimeout(timer);
        const ran = Math.max(0.01, performance.now() - started);
        this.avgRunMs = this.avgRunMs === undefined ? ran : this.avgRunMs * 0.8 + ran * 0.2;
      }
      // The slot is free once the handler returns: the ack joins the next batched statement, so
      // one round trip acknowledges far more than `concurrency` jobs. Until that statement
      // commits, however long the one before it takes, the job is settling: still ours, and
      // its lease renewed by the heartbeat.
      this.settling.set(job.id, job);
      this.vacate(job);
      try {
        return (await this.acks.add({ job, result })) ? 'completed' : 'lease-lost';
      } finally {
        this.settling.delete(job.id);
      }
    };
    settle()
      .catch((err) => {
        this.hooks.onError?.(err, 'settle');
        return 'lease-lost' as const;
      })
      .then((outcome) => {
        this.counts[outcome]++;
        this.hooks.onSettled?.(job, outcome, performance.now() - started);
        this.vacate(job);
        // An idle consumer sleeps until the due time it read before this retry existed (or the
        // poll interval): read it again, so the retry runs after its backoff, not at the next poll.
        if (outcome === 'retry' && this.idle && !this.stopping) void this.sleepUntilDue();
      });
  }

  private vacate(job: J): void {
    if (!this.running.delete(job.id)) return;
    if (this.running.size === 0) this.drained?.();
    this.pump();
  }

  /** Acks gathered while the previous ack statement runs go to the database in one statement. */
  /**
   * Acks gathered while the previous ack statement ran. An ack that fails (the database is away)
   * is not given up: the jobs stay owned, their leases are renewed by the heartbeat, and the ack
   * is sent again with backoff until it commits or is refused (the lease went to another
   * consumer, which runs the job again: at-least-once).
   */
  private async completeBatch(items: Settle<J>[]): Promise<boolean[]> {
    const acks: { job: J; result: unknown }[] = [];
    for (const item of items) if (!('started' in item)) acks.push(item);
    const acked = new Set(acks.map((a) => a.job.id));
    // A job acked in this very batch needs no separate charge: the ack records its attempt.
    const started = items.flatMap((item) => ('started' in item && !acked.has(item.job.id) ? [item.job] : []));
    // The acked jobs are in `settling` from their handler's return until their ack resolves.
    const held = await this.persistently('complete', () => this.source.complete(acks, started));
    return items.map((item) => ('started' in item ? true : (held?.has(item.job.id) ?? false)));
  }

  /** Settles a failed job, sending it again while the database is unreachable. */
  private async failPersistently(job: J, error: unknown): Promise<Outcome> {
    this.settling.set(job.id, job);
    try {
      return (await this.persistently('fail', () => this.source.fail(job, error))) ?? 'lease-lost';
    } finally {
      this.settling.delete(job.id);
    }
  }

  /**
   * Runs a settling statement until it succeeds, retrying errors with backoff (100 ms doubling
   * to 5 s). After stop() gives up waiting it tries once more and leaves the rest to the lease.
   */
  private async persistently<T>(where: string, fn: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        this.hooks.onError?.(err, where);
        if (this.abandoned) return undefined;
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** (attempt - 1))));
      }
    }
  }

  private async heartbeat(): Promise<void> {
    const jobs = [...this.buffer, ...[...this.running.values()].map((r) => r.job), ...this.settling.values()];
    if (jobs.length === 0) return;
    let held: Set<number>;
    let cancelled: Set<number>;
    try {
      ({ held, cancelled } = await this.source.extend(jobs));
    } catch (err) {
      this.hooks.onError?.(err, 'heartbeat');
      return;
    }
    // Only the jobs this statement asked about are judged: a claim that returned while it ran
    // brought jobs it never saw, and dropping or aborting those left their leases to lapse.
    const asked = new Set(jobs.map((j) => j.id));
    const lost = (id: number) => asked.has(id) && !held.has(id);
    this.buffer = this.buffer.filter((j) => !lost(j.id));
    // A prefetched job cancelled before it started is finished as cancelled, never run.
    for (const job of this.buffer.filter((j) => cancelled.has(j.id))) {
      this.buffer.splice(this.buffer.indexOf(job), 1);
      void this.source.fail(job, new JobCancelled(job.id)).then(
        (outcome) => this.counts[outcome]++,
        (err: unknown) => this.hooks.onError?.(err, 'cancel'),
      );
    }
    for (const r of this.running.values()) {
      if (lost(r.job.id)) r.abort.abort(new Error(`lease on job ${r.job.id} was lost`));
      else if (cancelled.has(r.job.id) && !r.abort.aborted) r.abort.abort(new JobCancelled(r.job.id));
    }
  }

  private async safely(where: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.hooks.onError?.(err, where);
    }
  }
}
