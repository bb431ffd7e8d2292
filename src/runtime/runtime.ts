import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../config.ts';
import { createLogger, type Logger } from '../log.ts';
import { retryDelayMs, toStoredError } from '../queue/backoff.ts';
import { Defer, InvalidPayload, JobCancelled, Park, PermanentFailure, RetryLater } from '../queue/errors.ts';
import { EventHub, type EventTransport } from '../queue/events.ts';
import { CANCEL_CHANNEL, QueueClient, type CancelNotice, type ClaimedJob } from '../queue/queue.ts';
import { DEFAULT_RETRY, type Job, type QueueMetrics, type RetryPolicy } from '../queue/types.ts';
import { migrate, openDatabase, type Sql } from '../storage/index.ts';
import { Consumer, type ConsumerSource, type JobAbort, type Outcome } from './consumer.ts';
import { declared, type Domain, type JobContext, type LoopDefinition, type QueueDefinition, type Services } from './domain.ts';
import type { ScheduleDefinition } from './schedules.ts';
import type { ApiServer } from './api-server.ts';
import { startHealthServer, type HealthServer } from './health.ts';
import { PeriodicLoop } from './loops.ts';
import { queueHealthLoop, type QueueHealth } from './queue-health.ts';
import { maintenanceLoops } from './maintenance.ts';
import { RuntimeMetrics } from './metrics.ts';
import { RateLimiter } from './rate-limit.ts';
import { HEARTBEAT_MS, heartbeatWorker, registerWorker, unregisterWorker, type WorkerInfo } from './registry.ts';
import { resolveRoles } from './roles.ts';
import { createScheduler, syncDeclaredSchedules } from './schedules.ts';

export interface RuntimeOptions {
  config: Config;
  domains: readonly Domain[];
  /** Roles to run instead of WORKER_TYPE (from `nova start <roles…>`). */
  roles?: string;
  logger?: Logger;
  /** A database opened by the caller, who keeps closing it; otherwise opened from config. */
  sql?: Sql;
  /** Start the health server (default true). */
  health?: boolean;
}

interface RunningQueue {
  def: QueueDefinition;
  consumer: Consumer<ClaimedJob>;
}

/** A domain this process set up, with what its `setup` returned. */
interface ActiveDomain {
  domain: Domain;
  deps: unknown;
}

const VERSION = '0.1.0';

/** The role whose processes serve the domains' HTTP routes. */
export const API_ROLE = 'api';

/**
 * One Nova process: opens the database, applies migrations, then runs the consumers and loops of
 * the roles it was given, a health server, and the maintenance every process shares.
 */
export class Runtime {
  readonly processId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  readonly events = new EventHub();
  readonly log: Logger;
  roles = new Set<string>();
  private sql!: Sql;
  private services!: Services;
  private readonly queues = new Map<string, RunningQueue>();
  private readonly loops: PeriodicLoop[] = [];
  private readonly active: ActiveDomain[] = [];
  private unlistenCancel: (() => Promise<void>) | undefined;
  private health: HealthServer | undefined;
  private api: ApiServer | undefined;
  private unlistenWake: (() => Promise<void>) | undefined;
  private metrics!: RuntimeMetrics;
  private startedAt = 0;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private starting: Promise<void> | undefined;
  private metricsCache: { at: number; value: Promise<QueueMetrics[]> } | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private redis: (EventTransport & { close(): Promise<void> }) | undefined;
  private scheduler: ReturnType<typeof createScheduler> | undefined;

  constructor(private readonly options: RuntimeOptions) {
    const c = options.config;
    this.log = options.logger ?? createLogger({ level: c.LOG_LEVEL, format: c.NOVA_LOG_FORMAT });
  }

  get healthPort(): number | undefined {
    return this.health?.port;
  }

  /** The API server's port, when this process runs the `api` role. */
  get apiPort(): number | undefined {
    return this.api?.port;
  }

  get service(): Services {
    return this.services;
  }

  /** What the named domain's `setup` built in this process; undefined when it is not set up here. */
  depsOf<D = unknown>(domain: string): D | undefined {
    return this.active.find((a) => a.domain.name === domain)?.deps as D | undefined;
  }

  /** Starts every role of this process; a stop() called meanwhile waits for it, then stops. */
  start(): Promise<void> {
    if (!this.starting) {
      this.state = 'starting';
      this.starting = this.boot();
    }
    return this.starting;
  }

  private async boot(): Promise<void> {
    const { config, domains } = this.options;
    this.roles = resolveRoles(this.options.roles ?? config.WORKER_TYPE, domains);
    this.startedAt = Date.now();
    this.sql = this.options.sql ?? (await openDatabase({
      databaseUrl: config.DATABASE_URL, dataDir: config.NOVA_DATA_DIR, poolSize: config.NOVA_DB_POOL_SIZE,
    }));
    const applied = await migrate(this.sql);
    if (applied.length) this.log.child('Storage').info(`applied ${applied.length} migration(s)`, { migrations: applied });
    this.events.onPublishError = (err) => this.log.child('Events').warn('could not publish events', { error: err });
    if (config.NOVA_PUBLISH_EVENTS) {
      if (config.REDIS_URL) {
        // Loaded only when used, as Fastify below: a worker process carries neither.
        const { redisTransport } = await import('./redis-events.ts');
        this.redis = await redisTransport(config.REDIS_URL, `nova:events:${databaseIdentity(config)}`);
        await this.events.connect(this.redis);
      } else {
        await this.events.connect(this.sql);
      }
    }
    const queue = new QueueClient(this.sql, this.events);
    this.services = {
      config, sql: this.sql, queue, events: this.events, rateLimiter: new RateLimiter(this.sql), processId: this.processId,
      log: this.log, depsOf: (name) => this.depsOf(name),
    };
    this.metrics = new RuntimeMetrics({
      inFlight: () => new Map([...this.queues].map(([name, q]) => [name, q.consumer.stats().running + q.consumer.stats().buffered])),
      queueMetrics: () => this.queueMetrics(),
    });

    // Set up only the domains this process runs something of: a `webhooks` process builds no
    // LLM client. Each setup runs once; its deps go to the domain's handlers, loops and routes.
    const serves = (d: Domain) => !!d.routes && (d.httpRoles ?? [API_ROLE]).some((r) => this.roles.has(r));
    for (const domain of domains) {
      const runsHere = [...domain.roles, ...(domain.setupRoles ?? [])].some((r: string) => this.roles.has(r)) || serves(domain);
      if (!runsHere) continue;
      this.active.push({ domain, deps: domain.setup ? await domain.setup(this.services) : undefined });
    }

    // Every process schedules; row locks make each occurrence fire once. Declared schedules are
    // checked here so that a bad cron stops the start before any consumer runs.
    await syncDeclaredSchedules(this.sql, domains.flatMap((d) => declared<ScheduleDefinition>(d.schedules, config)));
    // Serve first: /health and the API answer while the consumers and loops below make their
    // first round of statements (on PGlite they share one thread with every request).
    const served = this.active.filter(({ domain }) => serves(domain));
    if (served.length) {
      const { startApiServer } = await import('./api-server.ts');
      this.api = await startApiServer({
        domains: served, services: this.services, port: config.PORT, host: config.API_HOST, token: config.NOVA_API_TOKEN,
        log: this.log.child('Api'),
      });
      if (!config.NOVA_API_TOKEN && config.NODE_ENV !== 'development') {
        this.log.warn(`NOVA_API_TOKEN is not set: any client that can reach port ${this.api.port} may use the management API and /ws (browsers only from the dashboard's own origin)`);
      }
    }

    if (this.options.health !== false) {
      this.health = await startHealthServer(
        {
          checkDatabase: () => this.checkDatabase(),
          status: () => this.status(),
          metrics: () => this.metrics.scrape(),
        },
        config.WORKER_HEALTH_PORT,
        config.NOVA_HEALTH_HOST,
      );
    }

    this.scheduler = createScheduler({ sql: this.sql, queue, log: this.log.child('Scheduler') });
    await this.scheduler.start();

    const activeQueues = this.active.flatMap(({ domain, deps }) =>
      declared<QueueDefinition>(domain.queues, config).filter((q) => this.roles.has(q.role)).map((def) => ({ def, deps })));
    for (const { def } of activeQueues) await queue.declare(def.name, retryPolicy(def, config).maxAttempts);
    this.unlistenWake = await this.sql.listen('nova_wake', (name) => this.queues.get(name)?.consumer.wake());
    for (const { def, deps } of activeQueues) this.startQueue(def, deps);
    // A cancel of a job running here aborts its handler at once (the heartbeat is the fallback).
    // Its own channel: a worker process listens to no event stream (only /ws fan-out does).
    this.unlistenCancel = await this.sql.listen(CANCEL_CHANNEL, (payload) => {
      let notice: CancelNotice;
      try {
        notice = JSON.parse(payload) as CancelNotice;
      } catch {
        return;
      }
      this.queues.get(notice.queue)?.consumer.abortJob(notice.id, new JobCancelled(notice.id));
    });

    const loopDefs: { def: LoopDefinition; deps: unknown }[] = [
      ...this.active.flatMap(({ domain, deps }) =>
        declared<LoopDefinition>(domain.loops, config).filter((l) => this.roles.has(l.role)).map((def) => ({ def, deps }))),
      ...maintenanceLoops(config, ['nova_jobs', ...domains.flatMap((d) => d.owns ?? [])]).map((def) => ({ def, deps: undefined })),
      {
        def: queueHealthLoop(config.NOVA_QUEUE_HEALTH_LOG_MS, async () => ((await this.status()) as { queues: QueueHealth[] }).queues),
        deps: undefined,
      },
    ];
    for (const { def, deps } of loopDefs) {
      const loop = new PeriodicLoop(def, {
        sql: this.sql, holder: this.processId, leaseTtlMs: config.NOVA_LEASE_TTL_MS,
        log: this.log.child(`Loop:${def.name}`), services: this.services, deps,
      });
      this.loops.push(loop);
      loop.start();
    }

    await this.register();
    this.state = 'running';
    this.log.info('Nova started', {
      roles: [...this.roles], queues: activeQueues.map((q) => q.def.name), loops: loopDefs.map((l) => l.def.name),
      database: this.sql.kind, healthPort: this.health?.port, apiPort: this.api?.port,
    });
  }

  /**
   * Graceful stop: no new claims, prefetched jobs handed back at once, running jobs given until
   * SHUTDOWN_TIMEOUT_MS to finish, then aborted and handed back; singleton leases released.
   */
  async stop(): Promise<void> {
    // A signal during start: its queues may already hold leases, so the stop waits for the start
    // and then hands them back like any other stop (a start that failed is the caller's to report).
    if (this.state === 'starting') await this.starting!.catch(() => undefined);
    if (this.state !== 'running') return;
    this.state = 'stopping';
    const deadline = this.options.config.SHUTDOWN_TIMEOUT_MS;
    // One deadline for the whole stop, not one per step: the API's drain counts against it.
    const stopBy = Date.now() + deadline;
    const left = () => Math.max(0, stopBy - Date.now());
    this.log.info('stopping', { deadlineMs: deadline });
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await unregisterWorker(this.sql, this.processId).catch((err: unknown) => this.log.warn('could not unregister', { error: err }));
    await this.unlistenWake?.();
    // The API stops first: no new webhooks accepted while the workers drain.
    await this.api?.close();
    await Promise.all([
      ...[...this.queues.values()].map((q) => q.consumer.stop(left())),
      ...this.loops.map((l) => l.stop(left())),
      this.scheduler?.stop(),
    ]);
    // Cancels still abort the jobs that finish their work during the drain.
    await this.unlistenCancel?.();
    // Domains close what their setup opened once nothing of theirs runs any more.
    for (const { domain, deps } of this.active.reverse()) {
      await domain.stop?.(deps).catch((err: unknown) => this.log.warn('domain stop failed', { domain: domain.name, error: err }));
    }
    await this.health?.close();
    await this.events.disconnect();
    await this.redis?.close();
    if (!this.options.sql) await this.sql.close();
    this.state = 'stopped';
    this.log.info('stopped');
  }

  /**
   * After a second SIGTERM/SIGINT: hands back every lease this process holds (running jobs
   * included) within a couple of seconds, so the process can exit without leaving its jobs to
   * wait for their leases to expire.
   */
  async forceStop(): Promise<void> {
    const release = Promise.all([...this.queues.values()].map((q) => q.consumer.abandon()));
    await Promise.race([release, new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  /** What a stop is still waiting for, in words (the shutdown messages print it). */
  awaiting(): string[] {
    const waits: string[] = [];
    for (const [name, q] of this.queues) {
      const n = q.consumer.stats().running;
      if (n) waits.push(`${n} running job${n === 1 ? '' : 's'} on ${name}`);
    }
    for (const loop of this.loops) if (loop.status().running) waits.push(`loop ${loop.status().name}`);
    const sockets = this.api?.connections() ?? 0;
    if (sockets) waits.push(`${sockets} open HTTP/WebSocket connection${sockets === 1 ? '' : 's'}`);
    return waits;
  }

  async status(): Promise<unknown> {
    const metrics = await this.queueMetrics().catch(() => [] as QueueMetrics[]);
    const byName = new Map(metrics.map((m) => [m.queue, m]));
    return {
      processId: this.processId,
      pid: process.pid,
      version: VERSION,
      state: this.state,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeMs: Date.now() - this.startedAt,
      database: this.sql.kind,
      roles: [...this.roles],
      queues: [...this.queues.values()].map(({ def, consumer }) => {
        const s = consumer.stats();
        return {
          name: def.name, role: def.role, concurrency: def.concurrency ?? 1, batchSize: s.batchSize,
          inFlight: s.running, buffered: s.buffered, outcomes: s.outcomes,
          lastPollAt: s.lastPollAt === null ? null : new Date(s.lastPollAt).toISOString(),
          idle: s.idle, depth: byName.get(def.name) ?? null,
        };
      }),
      loops: this.loops.map((l) => l.status()),
      schedules: await this.scheduler?.status(),
      memory: { rssBytes: process.memoryUsage().rss },
    };
  }

  /** Enters this process in the worker registry and keeps its heartbeat while it runs. */
  private async register(): Promise<void> {
    const info: WorkerInfo = {
      id: this.processId, pid: process.pid, version: VERSION, roles: [...this.roles],
      healthPort: this.health?.port ?? null, apiPort: this.api?.port ?? null,
    };
    await registerWorker(this.sql, info);
    this.heartbeat = setInterval(() => {
      // A beat that starts after stop() began would register the process again.
      if (this.state !== 'running') return;
      heartbeatWorker(this.sql, info).catch((err: unknown) => this.log.warn('worker heartbeat failed', { error: err }));
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private async checkDatabase(): Promise<boolean> {
    try {
      await Promise.race([
        this.sql.query('select 1'),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
      ]);
      return true;
    } catch {
      return false;
    }
  }

  /** Depths of the queues this process runs, cached for a second so scrapes stay cheap. */
  private queueMetrics(): Promise<QueueMetrics[]> {
    const now = Date.now();
    if (!this.metricsCache || now - this.metricsCache.at > 1000) {
      const names = [...this.queues.keys()];
      this.metricsCache = { at: now, value: Promise.all(names.map((n) => this.services.queue.metrics(n))) };
    }
    return this.metricsCache.value;
  }

  private startQueue(def: QueueDefinition, deps: unknown): void {
    const { config } = this.options;
    const queue = this.services.queue;
    const log = this.log.child(`Queue:${def.name}`);
    const policy = retryPolicy(def, config);
    const leaseMs = config.VISIBILITY_TIMEOUT * 1000;
    const source: ConsumerSource<ClaimedJob> = {
      claim: async (limit, startNow) => {
        const jobs = await queue.claim(def.name, {
          limit, leaseMs, workerId: this.processId, startNow,
          ...(def.groupConcurrency !== undefined && { groupConcurrency: def.groupConcurrency }),
        });
        if (log.enabled('debug')) log.debug(`polled: ${jobs.length} of ${limit} job(s)`);
        return jobs;
      },
      // TESTING_MODE (seed 001): processed jobs are handed back, due again after the visibility
      // timeout as an unacknowledged PGMQ message would be, instead of acknowledged.
      complete: config.TESTING_MODE
        ? async (acks) => {
          // Every run is handed back with its attempt uncounted, so starts need no charge.
          await queue.release(acks.map((a) => a.job), leaseMs);
          return new Set(acks.map((a) => a.job.id));
        }
        : (acks, started) => queue.complete(
          def.name, acks.map(({ job, result }) => ({ id: job.id, token: job.token, attempt: job.attempt, result })),
          config.NOVA_RETAIN_COMPLETED > 0, started,
        ),
      fail: (job, error) => this.settleFailure(def, deps, job, error, policy, log),
      extend: (jobs) => queue.extend(jobs, leaseMs),
      release: async (jobs) => {
        await queue.release(jobs);
      },
      nextDueInMs: async () => {
        const at = await queue.nextDueAt(def.name);
        return at === null ? null : at.getTime() - Date.now();
      },
    };
    const outcomeCounters: Partial<Record<Outcome, { inc(): void }>> = {};
    const durations = this.metrics.duration.labels(def.name);
    const consumer = new Consumer<ClaimedJob>(
      source,
      (job, abort) => this.runHandler(def, deps, job, abort, log),
      {
        concurrency: def.concurrency ?? 1,
        batchSize: def.batchSize ?? config.BATCH_SIZE ?? 'auto',
        pollIntervalMs: config.POLL_INTERVAL_MS,
        heartbeatMs: Math.max(50, Math.floor(leaseMs / 3)),
        ...(def.timeoutMs !== undefined && { timeoutMs: def.timeoutMs }),
      },
      {
        onError: (err, where) => log.error(`consumer error in ${where}`, { error: err }),
        onSettled: (job, outcome, ms) => {
          // Label children are looked up once per outcome: hashing labels per job costs more than a no-op job.
          (outcomeCounters[outcome] ??= this.metrics.jobs.labels(def.name, outcome)).inc();
          durations.observe(ms / 1000);
          if (outcome === 'lease-lost') log.warn('lease lost before ack; the job will run again', { jobId: job.id });
        },
      },
    );
    this.queues.set(def.name, { def, consumer });
    consumer.start();
  }

  /**
   * What a handler's error means for its job: the one place job control flow is decided.
   * Cancel, Defer and Park hand the job back without spending the attempt; RetryLater retries
   * after its delay; PermanentFailure, a declared non-retryable error or the last attempt
   * dead-letter it, with the queue's onDead hook in the same transaction.
   */
  private async settleFailure(
    def: QueueDefinition, deps: unknown, job: Job, error: unknown, policy: RetryPolicy, log: Logger,
  ): Promise<Outcome> {
    const queue = this.services.queue;
    if (error instanceof JobCancelled) return (await queue.finishCancelled(job, error)) ? 'cancelled' : 'lease-lost';
    if (error instanceof Defer) return (await queue.defer(job, error.delayMs)) ? 'deferred' : 'lease-lost';
    if (error instanceof Park) return (await queue.park(job, error.key, error.timeoutMs)) ? 'parked' : 'lease-lost';
    const dead = error instanceof PermanentFailure || (def.nonRetryable?.(error) ?? false) || job.attempt >= job.maxAttempts;
    const options = {
      retryDelayMs: error instanceof RetryLater ? error.retryAfterMs : retryDelayMs(policy, job.attempt),
      dead,
      workerId: this.processId,
    };
    const fields = { jobId: job.id, attempt: job.attempt, error };
    if (!dead) {
      const outcome = await queue.fail(job, error, options);
      if (outcome === 'retry') log.warn('job failed, will retry', fields);
      return outcome;
    }
    const onDead = def.onDead;
    const outcome = onDead
      ? await this.sql.transaction(async (tx) => {
          const result = await queue.fail(job, error, options, tx);
          if (result === 'dead') {
            await onDead(job, { error: toStoredError(error, job.attempt), tx, services: this.services, deps, log });
          }
          return result;
        })
      : await queue.fail(job, error, options);
    if (outcome === 'dead') log.error('job dead-lettered', fields);
    return outcome;
  }

  private async runHandler(def: QueueDefinition, deps: unknown, job: Job, abort: JobAbort, log: Logger): Promise<unknown> {
    if (job.attempt > job.maxAttempts) {
      // Its holder died (or stalled) during the last attempt, and the reaper handed it back:
      // dead-letter it here, where the queue's onDead hook runs, without running it again.
      throw new PermanentFailure(`attempts used up: ${job.lastError?.message ?? 'the last attempt did not finish'}`);
    }
    let payload = job.payload;
    if (def.schema) {
      const parsed = def.schema.safeParse(job.payload);
      if (!parsed.success) throw new InvalidPayload(`invalid payload: ${parsed.error.message}`);
      payload = parsed.data;
    }
    // The job's logger and its abort signal are made on first use: a short job that uses
    // neither costs no closures and no AbortController.
    let jobLog: Logger | undefined;
    const logger = () => (jobLog ??= log.child(`Queue:${def.name}`, { jobId: job.id }));
    const queue = this.services.queue;
    // Made on the first report: most jobs never report progress.
    let progress: ProgressReporter | undefined;
    const ctx: JobContext = {
      job: { ...job, payload },
      attempt: { number: job.attempt, max: job.maxAttempts, isLast: job.attempt >= job.maxAttempts },
      get signal() {
        return abort.signal;
      },
      get log() {
        return logger();
      },
      progress: async (data) => {
        (progress ??= new ProgressReporter((latest) => queue.progress(job, latest), logger)).report(data);
      },
      checkpoint: (tx) => queue.checkpoint(job, tx),
      services: this.services,
      deps,
    };
    // The seed's per-job lines, at debug: start, then success or failure with the duration.
    const debug = log.enabled('debug');
    const started = debug ? performance.now() : 0;
    if (debug) logger().debug('processing', { attempt: job.attempt });
    try {
      const result = await def.handler(payload, ctx);
      if (debug) logger().debug(`processed in ${Math.round(performance.now() - started)}ms`);
      return result;
    } catch (err) {
      if (debug) logger().debug(`failed in ${Math.round(performance.now() - started)}ms`, { error: err });
      throw err;
    } finally {
      progress?.settle();
    }
  }
}

/** How often a running job's reported progress is stored at most (JobContext.progress). */
const PROGRESS_FLUSH_MS = 250;

/**
 * A running job's progress reports: the latest value is stored (and its event sent) at most every
 * PROGRESS_FLUSH_MS, and nothing once the job has settled. A short job's 10 / 30 / 100 % cost a
 * round trip each, for values nobody sees before the job completes.
 */
class ProgressReporter {
  private latest: { data: unknown } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writes = Promise.resolve();
  private settled = false;

  constructor(
    private readonly store: (data: unknown) => Promise<unknown>,
    private readonly log: () => Logger,
  ) {}

  report(data: unknown): void {
    this.latest = { data };
    if (this.timer || this.settled) return;
    this.timer = setTimeout(() => this.flush(), PROGRESS_FLUSH_MS);
    this.timer.unref();
  }

  settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
  }

  private flush(): void {
    this.timer = undefined;
    const latest = this.latest;
    this.latest = undefined;
    if (this.settled || !latest) return;
    // One write at a time, in order: an older value never lands after a newer one.
    this.writes = this.writes
      .then(() => (this.settled ? undefined : this.store(latest.data)))
      .then(() => undefined, (err: unknown) => this.log().warn('could not store progress', { error: err }));
  }
}

/** Which database this process works on, for names shared outside it (a Redis channel). */
function databaseIdentity(config: Config): string {
  if (!config.DATABASE_URL) return `pglite:${config.NOVA_DATA_DIR}`;
  const url = new URL(config.DATABASE_URL);
  return `${url.hostname}:${url.port || 5432}${url.pathname}`;
}

function retryPolicy(def: QueueDefinition, config: Config): RetryPolicy {
  // RETRY_BACKOFF_FACTOR is the default growth; a queue's own policy wins.
  return { ...DEFAULT_RETRY, factor: config.RETRY_BACKOFF_FACTOR, ...def.retry };
}
