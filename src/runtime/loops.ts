import type { Logger } from '../log.ts';
import type { Sql } from '../storage/index.ts';
import type { LoopDefinition, Services } from './domain.ts';
import { Lease } from './lease.ts';

export interface LoopStatus {
  name: string;
  role: string;
  intervalMs: number;
  singleton: boolean;
  /** For a singleton: whether this process holds its lease now. */
  leader: boolean;
  running: boolean;
  runs: number;
  failures: number;
  lastRunAt: string | null;
  lastError: string | null;
}

/**
 * Runs a loop body every `intervalMs` (measured from the end of one run to the start of the
 * next, so runs never overlap). A singleton runs only while this process holds the loop's lease;
 * the lease is renewed every third of its TTL, including during a long run.
 */
export class PeriodicLoop {
  private readonly lease: Lease | undefined;
  private leader = false;
  private stopping = false;
  private runTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private renewing = false;
  private current: { abort: AbortController; done: Promise<void> } | undefined;
  private readonly state = { runs: 0, failures: 0, lastRunAt: null as string | null, lastError: null as string | null };

  constructor(
    private readonly def: LoopDefinition,
    private readonly deps: { sql: Sql; holder: string; leaseTtlMs: number; log: Logger; services: Services; deps?: unknown },
  ) {
    if (def.singleton) this.lease = new Lease(deps.sql, `loop:${def.name}`, deps.holder, deps.leaseTtlMs);
  }

  start(): void {
    if (!this.lease) {
      this.schedule(this.def.firstRunAfterMs ?? 0);
      return;
    }
    void this.renew();
    this.renewTimer = setInterval(() => void this.renew(), Math.max(100, Math.floor(this.deps.leaseTtlMs / 3)));
    this.renewTimer.unref();
  }

  status(): LoopStatus {
    return {
      name: this.def.name,
      role: this.def.role,
      intervalMs: this.def.intervalMs,
      singleton: !!this.def.singleton,
      leader: this.lease ? this.leader : true,
      running: !!this.current,
      ...this.state,
    };
  }

  /** Stops scheduling, lets a running body finish until the deadline, then gives up the lease. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.runTimer);
    clearInterval(this.renewTimer);
    if (this.current) {
      const late = setTimeout(() => this.current?.abort.abort(new Error('shutting down')), deadlineMs);
      await this.current.done;
      clearTimeout(late);
    }
    try {
      await this.lease?.release();
    } catch (err) {
      this.deps.log.warn('could not release lease', { loop: this.def.name, error: err });
    }
  }

  private async renew(): Promise<void> {
    if (this.renewing || this.stopping || !this.lease) return;
    this.renewing = true;
    try {
      const held = await this.lease.acquire();
      if (held && !this.leader && !this.stopping) {
        this.leader = true;
        this.deps.log.info('took the lease', { loop: this.def.name, token: this.lease.heldToken });
        this.schedule(this.def.firstRunAfterMs ?? 0);
      } else if (!held && this.leader) {
        this.loseLeadership('lease taken by another process');
      }
    } catch (err) {
      // Cannot confirm the lease: stop acting as leader before it may lapse.
      if (this.leader) this.loseLeadership('lease renewal failed');
      this.deps.log.warn('lease renewal failed', { loop: this.def.name, error: err });
    } finally {
      this.renewing = false;
    }
  }

  private loseLeadership(reason: string): void {
    this.leader = false;
    clearTimeout(this.runTimer);
    this.current?.abort.abort(new Error(reason));
    this.deps.log.warn('lost the lease', { loop: this.def.name, reason });
  }

  private schedule(ms: number): void {
    clearTimeout(this.runTimer);
    this.runTimer = setTimeout(() => void this.runOnce(), ms);
    this.runTimer.unref();
  }

  private async runOnce(): Promise<void> {
    if (this.stopping || (this.lease && !this.leader) || this.current) return;
    const abort = new AbortController();
    const body = this.def.run({
      signal: abort.signal,
      log: this.deps.log,
      leaseToken: this.lease?.heldToken ?? null,
      confirmLease: async (db) => (this.lease ? this.leader && (await this.lease.confirm(db)) : true),
      services: this.deps.services,
      deps: this.deps.deps,
    });
    const done = body.then(
      () => {
        this.state.lastError = null;
      },
      (err: unknown) => {
        this.state.failures++;
        this.state.lastError = err instanceof Error ? err.message : String(err);
        this.deps.log.error('loop run failed', { loop: this.def.name, error: err });
      },
    );
    this.current = { abort, done };
    await done;
    this.current = undefined;
    this.state.runs++;
    this.state.lastRunAt = new Date().toISOString();
    if (!this.stopping && (!this.lease || this.leader)) this.schedule(this.def.intervalMs);
  }
}
