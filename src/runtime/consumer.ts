/**
 * The claim / run / ack loop of one queue in one process. It knows no SQL: the storage side comes
 * in as a `ConsumerSource`, so the loop is testable on its own.
 *
 * Throughput comes from batching both ends: jobs are claimed `batchSize` at a time into a local
 * buffer (prefetch) and run `concurrency` at a time; acknowledgements made in the same tick go to
 * the database together. Leases of buffered and running jobs are renewed by one heartbeat.
 */

import { Batcher } from './batcher.ts';

export interface LeasedJob {
  id: number;
  token: number;
}

export interface ConsumerSource<J extends LeasedJob> {
  claim(limit: number): Promise<J[]>;
  /** Acks; returns the ids accepted (the rest had lost their lease). */
  complete(jobs: J[]): Promise<Set<number>>;
  /** Records a failed attempt (retry or dead letter, by policy). */
  fail(job: J, error: unknown): Promise<void>;
  /** Renews leases; returns the ids still held. */
  extend(jobs: J[]): Promise<Set<number>>;
  /** Hands leases back without counting an attempt. */
  release(jobs: J[]): Promise<void>;
  /** Milliseconds until the next queued job is due, or null when none is queued. */
  nextDueInMs(): Promise<number | null>;
}

export interface ConsumerOptions {
  concurrency: number;
  batchSize: number;
  /** Longest sleep without a wake-up; the fallback when notifications are lost. */
  pollIntervalMs: number;
  heartbeatMs: number;
  /** Abort a handler that runs longer than this. */
  timeoutMs?: number;
}

export type RunJob<J> = (job: J, signal: AbortSignal) => Promise<void>;

export interface ConsumerHooks<J> {
  onError?: (err: unknown, where: string) => void;
  onSettled?: (job: J, outcome: 'completed' | 'failed' | 'lease-lost', ms: number) => void;
}

export interface ConsumerStats {
  running: number;
  buffered: number;
  completed: number;
  failed: number;
  leaseLost: number;
  lastPollAt: number | null;
  idle: boolean;
}

export class ShutdownAbort extends Error {
  override name = 'ShutdownAbort';
}

export class Consumer<J extends LeasedJob> {
  private buffer: J[] = [];
  private readonly running = new Map<number, { job: J; abort: AbortController }>();
  // Bounded, so one statement never holds row locks for long however far acks fell behind.
  private readonly acks = new Batcher<J, boolean>((jobs) => this.completeBatch(jobs), 1000);
  private claiming = false;
  private wakeRequested = false;
  private idle = false;
  private stopping = false;
  private sleepTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private drained: (() => void) | undefined;
  private readonly counts = { completed: 0, failed: 0, leaseLost: 0 };
  private lastPollAt: number | null = null;

  constructor(
    private readonly source: ConsumerSource<J>,
    private readonly run: RunJob<J>,
    private readonly options: ConsumerOptions,
    private readonly hooks: ConsumerHooks<J> = {},
  ) {}

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
      ...this.counts,
      lastPollAt: this.lastPollAt,
      idle: this.idle,
    };
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
    await this.acks.idle();
    clearInterval(this.heartbeatTimer);
  }

  private pump(): void {
    if (this.stopping) return;
    while (this.running.size < this.options.concurrency && this.buffer.length > 0) {
      this.begin(this.buffer.shift()!);
    }
    const { batchSize, concurrency } = this.options;
    const held = this.running.size + this.buffer.length;
    const lowWater = this.buffer.length < Math.max(1, Math.ceil(batchSize / 2));
    if (!this.claiming && !this.idle && lowWater && held < concurrency + batchSize) {
      void this.claim(Math.min(batchSize, concurrency + batchSize - held));
    }
  }

  private async claim(limit: number): Promise<void> {
    this.claiming = true;
    this.wakeRequested = false;
    let jobs: J[] = [];
    try {
      jobs = await this.source.claim(limit);
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
    this.buffer.push(...jobs);
    if (jobs.length < limit && !this.wakeRequested) {
      this.idle = true;
      void this.sleepUntilDue();
    }
    this.pump();
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
    const abort = new AbortController();
    this.running.set(job.id, { job, abort });
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    if (this.options.timeoutMs) {
      timer = setTimeout(
        () => abort.abort(new Error(`job ${job.id} timed out after ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
    }
    const settle = async (): Promise<'completed' | 'failed' | 'lease-lost'> => {
      try {
        await this.run(job, abort.signal);
      } catch (err) {
        if (abort.signal.aborted && abort.signal.reason instanceof ShutdownAbort) return 'lease-lost';
        await this.source.fail(job, abort.signal.aborted ? (abort.signal.reason ?? err) : err);
        return 'failed';
      } finally {
        clearTimeout(timer);
      }
      // The slot is free once the handler returns: the ack joins the next batched statement, so
      // one round trip acknowledges far more than `concurrency` jobs.
      this.vacate(job);
      return (await this.acks.add(job)) ? 'completed' : 'lease-lost';
    };
    settle()
      .catch((err) => {
        this.hooks.onError?.(err, 'settle');
        return 'lease-lost' as const;
      })
      .then((outcome) => {
        if (outcome === 'completed') this.counts.completed++;
        else if (outcome === 'failed') this.counts.failed++;
        else this.counts.leaseLost++;
        this.hooks.onSettled?.(job, outcome, performance.now() - started);
        this.vacate(job);
      });
  }

  private vacate(job: J): void {
    if (!this.running.delete(job.id)) return;
    if (this.running.size === 0) this.drained?.();
    this.pump();
  }

  /** Acks gathered while the previous ack statement runs go to the database in one statement. */
  private async completeBatch(jobs: J[]): Promise<boolean[]> {
    let held: Set<number>;
    try {
      held = await this.source.complete(jobs);
    } catch (err) {
      // The acks did not commit: their leases lapse and the jobs run again (at-least-once).
      this.hooks.onError?.(err, 'complete');
      held = new Set();
    }
    return jobs.map((j) => held.has(j.id));
  }

  private async heartbeat(): Promise<void> {
    const jobs = [...this.buffer, ...[...this.running.values()].map((r) => r.job)];
    if (jobs.length === 0) return;
    let held: Set<number>;
    try {
      held = await this.source.extend(jobs);
    } catch (err) {
      this.hooks.onError?.(err, 'heartbeat');
      return;
    }
    this.buffer = this.buffer.filter((j) => held.has(j.id));
    for (const r of this.running.values()) {
      if (!held.has(r.job.id)) r.abort.abort(new Error(`lease on job ${r.job.id} was lost`));
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
