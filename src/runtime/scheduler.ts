import type { Logger } from '../log.ts';

/** What one pass over the due schedules did. */
export interface FireResult {
  /** Due rows this pass locked. */
  claimed: number;
  fired: { name: string; occurrence: string; jobId: number }[];
  /** Schedules whose missed occurrences were skipped. */
  skipped: string[];
}

/** The part of a stored schedule the status shows. */
export interface ScheduleSummary {
  name: string;
  cron: string;
  timezone: string;
  queue: string;
  enabled: boolean;
  nextRunAt: Date | null;
  lastRunAt: Date | null;
  lastJobId: number | null;
}

/** What the scheduler loop runs against; schedules.ts wires it to the database (no SQL here). */
export interface SchedulerSource {
  /** One pass: fires and advances up to `limit` due schedules. */
  fireDue(limit: number): Promise<FireResult>;
  /** Milliseconds until the earliest enabled occurrence (negative: overdue), null when none. */
  msUntilNext(): Promise<number | null>;
  /** Calls `wake` whenever a schedule may fire sooner than planned; returns the unsubscribe. */
  onChange(wake: () => void): Promise<() => Promise<void>>;
  list(): Promise<ScheduleSummary[]>;
}

export interface SchedulerStatus {
  running: boolean;
  /** Passes over the due schedules, and occurrences this process fired. */
  passes: number;
  fired: number;
  failures: number;
  lastPassAt: string | null;
  lastError: string | null;
  schedules: {
    name: string; cron: string; timezone: string; queue: string; enabled: boolean;
    nextRunAt: string | null; lastRunAt: string | null; lastJobId: number | null;
  }[];
}

/**
 * The longest sleep between passes. NOTIFY wakes a scheduler for every change that matters, so
 * this only bounds how long a lost notification (a reconnecting LISTEN connection) can delay
 * an occurrence, for the price of one indexed read per second per process.
 */
export const MAX_SLEEP_MS = 1000;
/**
 * An occurrence is due but this pass found it locked: another process is firing it (or it fell
 * due between the two reads). Look again shortly, as its transaction takes a few ms, doubling
 * the wait while it stays locked so that a stalled holder is not polled in a tight loop.
 */
const CONTENDED_RETRY_MS = { first: 2, max: 50 };
/** Due schedules locked per transaction; a full batch is followed by another pass at once. */
const BATCH = 100;

/**
 * Runs in every process, like the lease reaper: sleeps until the earliest next run (on the
 * database's clock), then fires what is due. Any number of processes may run it at once: the
 * row lock taken by `fireDue` decides which one fires each occurrence.
 */
export class Scheduler {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private woken = false;
  private wakeUp: (() => void) | undefined;
  private contended = 0;
  /** The next pass claims without reading the plan first (see pass). */
  private expectDue = true;
  private readonly state = { passes: 0, fired: 0, failures: 0, lastPassAt: null as string | null, lastError: null as string | null };

  constructor(
    private readonly source: SchedulerSource,
    private readonly options: { log: Logger; onFired?: (result: FireResult) => void },
  ) {}

  /**
   * Subscribes to changes and runs the first pass before returning: on PGlite, where statements
   * run on the process's own thread, the first (cold) pass then falls within the start instead
   * of landing on the first jobs.
   */
  async start(): Promise<void> {
    this.unlisten = await this.source.onChange(() => this.wake());
    const sleepMs = await this.pass();
    this.loop = this.run(sleepMs);
  }

  /** Runs a pass now (a schedule changed). */
  wake(): void {
    this.woken = true;
    this.expectDue = true;
    this.wakeUp?.();
  }

  /** Finishes the pass in progress, if any, and stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    await this.unlisten?.();
  }

  async status(): Promise<SchedulerStatus> {
    const schedules = await this.source.list().catch((err: unknown) => {
      this.options.log.warn('could not list schedules for the status', { error: err });
      return [];
    });
    return {
      running: !!this.loop && !this.stopping,
      ...this.state,
      schedules: schedules.map((s) => ({
        name: s.name, cron: s.cron, timezone: s.timezone, queue: s.queue, enabled: s.enabled,
        nextRunAt: s.nextRunAt?.toISOString() ?? null, lastRunAt: s.lastRunAt?.toISOString() ?? null, lastJobId: s.lastJobId,
      })),
    };
  }

  private async run(firstSleepMs: number): Promise<void> {
    await this.sleep(firstSleepMs);
    while (!this.stopping) await this.sleep(await this.pass());
  }

  /**
   * One pass; returns how long to sleep before the next. When the wake was planned for a due
   * occurrence (or a change woke it), it claims at once; otherwise (the one-second cap) it first
   * reads the plan, so an idle process costs one indexed read per second and no transaction.
   */
  private async pass(): Promise<number> {
    this.woken = false;
    const expectDue = this.expectDue;
    this.expectDue = false;
    let sleepMs = MAX_SLEEP_MS;
    try {
      let dueInMs = expectDue ? 0 : await this.source.msUntilNext();
      let claimed: number | null = null;
      if (dueInMs !== null && dueInMs <= 0) {
        const result = await this.source.fireDue(BATCH);
        claimed = result.claimed;
        this.state.passes++;
        this.state.lastPassAt = new Date().toISOString();
        this.state.lastError = null;
        if (result.fired.length) {
          this.state.fired += result.fired.length;
          this.options.onFired?.(result);
        }
        if (claimed === BATCH) {
          this.expectDue = true;
          return 0;
        }
        dueInMs = await this.source.msUntilNext();
      }
      const contended = claimed === 0 && dueInMs !== null && dueInMs <= 0;
      this.contended = contended ? this.contended + 1 : 0;
      if (dueInMs !== null && dueInMs > 0) {
        // A timer may fire a fraction of a millisecond early: one more keeps the pass from
        // finding the occurrence not yet due.
        sleepMs = Math.min(MAX_SLEEP_MS, Math.ceil(dueInMs) + 1);
        this.expectDue = dueInMs < MAX_SLEEP_MS;
      } else if (dueInMs !== null) {
        sleepMs = contended ? Math.min(CONTENDED_RETRY_MS.max, CONTENDED_RETRY_MS.first * 2 ** (this.contended - 1)) : 0;
        this.expectDue = true;
      }
    } catch (err) {
      this.state.failures++;
      this.state.lastError = err instanceof Error ? err.message : String(err);
      this.options.log.error('scheduler pass failed', { error: err });
    }
    return sleepMs;
  }

  /** Resolves after `ms`, or at once when woken (also by a wake that came during the pass). */
  private sleep(ms: number): Promise<void> {
    if (this.woken || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        done();
      };
    });
  }
}
