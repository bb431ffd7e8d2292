import type { FastifyInstance } from 'fastify';
import type { ZodType } from 'zod';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { EventHub } from '../queue/events.ts';
import type { QueueClient } from '../queue/queue.ts';
import type { Job, RetryPolicy } from '../queue/types.ts';
import type { Queryable, Sql } from '../storage/index.ts';
import type { RateLimiter } from './rate-limit.ts';

/** What handlers and loops reach the rest of Nova through. */
export interface Services {
  config: Config;
  sql: Sql;
  queue: QueueClient;
  events: EventHub;
  rateLimiter: RateLimiter;
  /** This process's id: host, pid and a random suffix. */
  processId: string;
  /** The process's logger; take a child per component. */
  log: Logger;
}

export interface JobContext<P = unknown> {
  job: Job<P>;
  /** Aborted on timeout, lost lease, or shutdown past the deadline. */
  signal: AbortSignal;
  log: Logger;
  /** Stores progress on the job and publishes a `progress` event. */
  progress(data: unknown): Promise<void>;
  services: Services;
}

export type JobHandler<P = unknown> = (payload: P, ctx: JobContext<P>) => Promise<void>;

/** One queue of the typed catalog: its payload schema, handler, and policies. */
export interface QueueDefinition<P = unknown> {
  name: string;
  /** The role whose processes consume this queue. */
  role: string;
  /** Payloads that fail it go to the dead letters at once: retrying cannot fix them. */
  schema?: ZodType<P>;
  handler: JobHandler<P>;
  /** Jobs run at once per process; default 1. A function reads it from the config (a knob). */
  concurrency?: number | ((config: Config) => number);
  /** Jobs claimed per round trip (prefetch); default BATCH_SIZE. */
  batchSize?: number;
  /** Attempts and backoff; a function reads them from the config. */
  retry?: Partial<RetryPolicy> | ((config: Config) => Partial<RetryPolicy>);
  timeoutMs?: number;
  /** At most this many active jobs per group key, across all processes. */
  groupConcurrency?: number;
}

export interface LoopContext {
  signal: AbortSignal;
  log: Logger;
  /** The fencing token of the singleton lease, or null for a loop that runs everywhere. */
  leaseToken: number | null;
  /**
   * For a singleton: whether this process still holds the lease, checked on `db`; inside a
   * transaction it fences that transaction's writes. Always true for other loops.
   */
  confirmLease(db: Queryable): Promise<boolean>;
  services: Services;
}

export interface LoopDefinition {
  name: string;
  role: string;
  intervalMs: number;
  /** Run in one process at a time, chosen by a database lease. */
  singleton?: boolean;
  run(ctx: LoopContext): Promise<void>;
}

/** A domain declares everything it runs in one place; the runtime reads it. */
export interface Domain {
  name: string;
  /** A WORKER_TYPE group name that selects all of this domain's roles (email, deals, ...). */
  group?: string;
  roles: string[];
  queues?: QueueDefinition<any>[];
  /** Periodic loops; a function reads intervals and switches from the config. */
  loops?: LoopDefinition[] | ((config: Config) => LoopDefinition[]);
  /** Cron schedules, upserted at start; each occurrence enqueues one job (runtime/schedules.ts). */
  schedules?: import('./schedules.ts').ScheduleDefinition[];
  /** HTTP routes, served by processes that run one of `httpRoles` (in a scope of their own). */
  routes?: (app: FastifyInstance, services: Services) => void | Promise<void>;
  /** Roles whose processes serve `routes`; default the `api` role. */
  httpRoles?: string[];
}

/** Declares a queue with its payload type inferred from the schema or handler. */
export function defineQueue<P>(definition: QueueDefinition<P>): QueueDefinition<P> {
  return definition;
}
