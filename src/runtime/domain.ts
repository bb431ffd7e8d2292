import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import type { ZodObject, ZodRawShape, ZodType, z } from 'zod';
import { ConfigError, loadConfig, type Config, type ConfigProblem } from '../config.ts';
import type { Logger } from '../log.ts';
import type { EventHub } from '../queue/events.ts';
import type { QueueClient } from '../queue/queue.ts';
import type { Job, RetryPolicy, StoredError } from '../queue/types.ts';
import type { Queryable, Sql } from '../storage/index.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { ScheduleDefinition } from './schedules.ts';

/**
 * Glossary of the domain contract
 * - domain: one folder of Nova (email, extraction, workflows, ...) declared with `defineDomain`.
 * - deps: what a domain's `setup` builds once per process (clients, batchers, caches) and hands
 *   to its handlers, loops and routes; `stop` closes it. No domain keeps state in a module.
 * - slice: the domain's zod object of environment variables, part of the one boot schema.
 */

/** What every domain reaches the rest of Nova through: one per process. */
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
  /**
   * What another domain's `setup` built in this process (runtime.depsOf), for a domain built on
   * another one (notifications start workflow runs). Undefined outside a runtime.
   */
  depsOf?<D = unknown>(domain: string): D | undefined;
}

/** The attempt a handler runs in. */
export interface Attempt {
  /** From 1. */
  number: number;
  max: number;
  /** No attempt follows this one if it fails (an onDead hook is the place for final compensation). */
  isLast: boolean;
}

export interface JobContext<P = unknown, D = unknown> {
  job: Job<P>;
  attempt: Attempt;
  /** Aborted on timeout, lost lease, cancel, or shutdown past the deadline. */
  signal: AbortSignal;
  log: Logger;
  /**
   * Reports progress: the latest value is stored on the job and published as a `progress` event
   * at most every 250 ms, and dropped if the job settles first (a short job's steps cost nothing).
   */
  progress(data: unknown): Promise<void>;
  /**
   * Marks a resume point, in `tx` with the job's own saved state: a crash after it does not charge
   * this attempt, because the next one starts past it. False when the lease is gone.
   */
  checkpoint(tx?: Queryable): Promise<boolean>;
  services: Services;
  /** What the domain's `setup` built for this process. */
  deps: D;
}

/** A handler returns the job's result (stored with the finished job; undefined stores null). */
export type JobHandler<P = unknown, D = unknown> = (payload: P, ctx: JobContext<P, D>) => Promise<unknown>;

/** What an onDead hook gets besides the job: its error and the process's services and deps. */
export interface DeadContext<D = unknown> {
  error: StoredError;
  /** The transaction that moves the job to the dead letters; write the compensation in it. */
  tx: Queryable;
  services: Services;
  deps: D;
  log: Logger;
}

/** One queue of the typed catalog: its payload schema, handler, and policies. */
export interface QueueDefinition<P = unknown, D = unknown> {
  name: string;
  /** The role whose processes consume this queue. */
  role: string;
  /** Payloads that fail it go to the dead letters at once: retrying cannot fix them. */
  schema?: ZodType<P>;
  handler: JobHandler<P, D>;
  /** Jobs run at once per process; default 1. */
  concurrency?: number;
  /** Jobs claimed per round trip (prefetch); default BATCH_SIZE, or adaptive when that is unset. */
  batchSize?: number;
  /** Attempts and backoff (base, factor, cap, jitter). */
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
  /** At most this many active jobs per group key, across all processes. */
  groupConcurrency?: number;
  /** Errors that retrying cannot fix: the job goes to the dead letters at the first one. */
  nonRetryable?: (error: unknown) => boolean;
  /**
   * Runs exactly once for every job that reaches the dead letters, whichever the path (attempts
   * used up, a permanent error, an invalid payload, a holder that died during the last attempt),
   * inside the transaction that dead-letters it. If it throws, nothing is dead-lettered and the
   * job comes back when its lease lapses, to try again.
   */
  onDead?: (job: Job<unknown>, ctx: DeadContext<D>) => Promise<void>;
}

export interface LoopContext<D = unknown> {
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
  deps: D;
}

export interface LoopDefinition<D = unknown> {
  name: string;
  role: string;
  intervalMs: number;
  /** Run in one process at a time, chosen by a database lease. */
  singleton?: boolean;
  /**
   * Wait before the first run (after start, or after taking the lease); 0 by default. Upkeep that
   * can wait sets it, so a starting process answers /health before it prunes.
   */
  firstRunAfterMs?: number;
  run(ctx: LoopContext<D>): Promise<void>;
}

/** What a domain's CLI commands get: the parsed configuration is loaded only when a command runs. */
export interface CommandContext {
  /** Loads and checks the configuration (exits 78 on a bad one). */
  config(): Config;
}

/** Everything a domain declares, in one place; the runtime and the CLI read it. */
export interface DomainDefinition<D = void, S extends ZodRawShape = ZodRawShape> {
  name: string;
  /** A WORKER_TYPE group name that selects all of this domain's roles (email, deals, ...). */
  group?: string;
  roles: string[];
  /**
   * Other roles whose processes also set this domain up (and stop it), without running its
   * queues or loops: a `workflow-runner` executing the domain's workflows needs its deps.
   */
  setupRoles?: string[];
  /** The domain's variables, merged into the one boot schema and checked at start. */
  config?: ZodObject<S>;
  /** Checks across variables, run at start: a problem stops the process with exit 78. */
  checkConfig?: (config: Config & z.infer<ZodObject<S>>) => ConfigProblem[];
  /** The tables this domain writes; no other domain's SQL may write them (test/ownership.test.ts). */
  owns?: string[];
  /** Builds the domain's per-process dependencies, once, before its queues, loops and routes start. */
  setup?: (services: Services) => D | Promise<D>;
  queues?: QueueDefinition<any, D>[] | ((config: Config) => QueueDefinition<any, D>[]);
  /** Periodic loops; a function reads intervals and switches from the config. */
  loops?: LoopDefinition<D>[] | ((config: Config) => LoopDefinition<D>[]);
  /** Cron schedules, upserted at start; each occurrence enqueues one job (runtime/schedules.ts). */
  schedules?: ScheduleDefinition[] | ((config: Config) => ScheduleDefinition[]);
  /** HTTP routes, served by processes that run one of `httpRoles` (in a scope of their own). */
  routes?: (app: FastifyInstance, services: Services, deps: D) => void | Promise<void>;
  /** Roles whose processes serve `routes`; default the `api` role. */
  httpRoles?: string[];
  /** `nova <...>` commands of this domain. */
  commands?: (program: Command, ctx: CommandContext) => void;
  /** Closes what `setup` opened (after the domain's consumers, loops and routes stopped). */
  stop?: (deps: D) => Promise<void>;
}

/** A declared domain, as the runtime holds it (its deps type erased). */
export type Domain = DomainDefinition<any, any>;

/** Declares a domain; the identity, for the types it infers (deps, config slice). */
export function defineDomain<D = void, S extends ZodRawShape = ZodRawShape>(definition: DomainDefinition<D, S>): Domain {
  return definition;
}

/** Declares a queue with its payload type inferred from the schema or handler. */
export function defineQueue<P, D = unknown>(definition: QueueDefinition<P, D>): QueueDefinition<P, D> {
  return definition;
}

/** A domain's lists, whether declared as arrays or as functions of the config. */
export function declared<T>(value: T[] | ((config: Config) => T[]) | undefined, config: Config): T[] {
  return typeof value === 'function' ? value(config) : (value ?? []);
}

/**
 * The boot configuration: the engine's schema with every domain's slice, then each domain's own
 * checks across variables. Throws one ConfigError naming every problem (the CLI exits 78).
 */
export function loadDomainConfig(env: NodeJS.ProcessEnv, domains: readonly Domain[]): Config {
  const config = loadConfig(env, domains.flatMap((d) => (d.config ? [d.config] : [])));
  const problems = domains.flatMap((d) => d.checkConfig?.(config) ?? []);
  if (problems.length) throw new ConfigError(problems);
  return config;
}
