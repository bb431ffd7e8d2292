import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../config.ts';
import { createLogger, type Logger } from '../log.ts';
import { retryDelayMs } from '../queue/backoff.ts';
import { InvalidPayload, PermanentFailure, RetryLater } from '../queue/errors.ts';
import { EventHub, type EventTransport } from '../queue/events.ts';
import { QueueClient } from '../queue/queue.ts';
import { DEFAULT_RETRY, type Job, type QueueMetrics, type RetryPolicy } from '../queue/types.ts';
import { migrate, openDatabase, type Sql } from '../storage/index.ts';
import { Consumer, type ConsumerSource } from './consumer.ts';
import type { Domain, LoopDefinition, QueueDefinition, Services } from './domain.ts';
import type { ApiServer } from './api-server.ts';
import { startHealthServer, type HealthServer } from './health.ts';
import { PeriodicLoop } from './loops.ts';
import { maintenanceLoops } from './maintenance.ts';
import { RuntimeMetrics } from './metrics.ts';
import { RateLimiter } from './rate-limit.ts';
import { HEARTBEAT_MS, heartbeatWorker, registerWorker, unregisterWorker, type WorkerInfo } from './registry.ts';
import { resolveRoles } from './roles.ts';

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
  consumer: Consumer<Job>;
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
  private health: HealthServer | undefined;
  private api: ApiServer | undefined;
  private unlistenWake: (() => Promise<void>) | undefined;
  private metrics!: RuntimeMetrics;
  private startedAt = 0;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private metricsCache: { at: number; value: Promise<QueueMetrics[]> } | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private redis: (EventTransport & { close(): Promise<void> }) | undefined;

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

  async start(): Promise<void> {
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
      log: this.log,
    };
    this.metrics = new RuntimeMetrics({
      inFlight: () => new Map([...this.queues].map(([name, q]) => [name, q.consumer.stats().running + q.consumer.stats().buffered])),
      queueMetrics: () => this.queueMetrics(),
    });

    const activeQueues = domains.flatMap((d) => d.queues ?? []).filter((q) => this.roles.has(q.role));
    for (const def of activeQueues) await queue.declare(def.name, retryPolicy(def, config).maxAttempts);
    this.unlistenWake = await this.sql.listen('nova_wake', (name) => this.queues.get(name)?.consumer.wake());
    for (const def of activeQueues) this.startQueue(def);

    const loopDefs: LoopDefinition[] = [
      ...domains.flatMap((d) => (typeof d.loops === 'function' ? d.loops(config) : (d.loops ?? []))).filter((l) => this.roles.has(l.role)),
      ...maintenanceLoops(config),
    ];
    for (const def of loopDefs) {
      const loop = new PeriodicLoop(def, {
        sql: this.sql, holder: this.processId, leaseTtlMs: config.NOVA_LEASE_TTL_MS,
        log: this.log.child(`Loop:${def.name}`), services: this.services,
      });
      this.loops.push(loop);
      loop.start();
    }

    const served = domains.filter((d) => d.routes && (d.httpRoles ?? [API_ROLE]).some((r) => this.roles.has(r)));
    if (served.length) {
      const { startApiServer } = await import('./api-server.ts');
      this.api = await startApiServer({
        domains: served, services: this.services, port: config.PORT, host: config.API_HOST, token: config.NOVA_API_TOKEN,
        log: this.log.child('Api'),
      });
      if (!config.NOVA_API_TOKEN && config.NODE_ENV !== 'development') {
        this.log.warn('NOVA_API_TOKEN is not set: the management API and /ws are open to anyone who can reach port ' + this.api.port);
      }
    }

    if (this.options.health !== false) {
      this.health = await startHealthServer(
        {
          checkDatabase: () => this.checkDatabase(),
          status: () => this.status(),
          metrics: async () => ({ contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() }),
        },
        config.WORKER_HEALTH_PORT,
        config.NOVA_HEALTH_HOST,
      );
    }
    await this.register();
    this.state = 'running';
    this.log.info('Nova started', {
      roles: [...this.roles], queues: activeQueues.map((q) => q.name), loops: loopDefs.map((l) => l.name),
      database: this.sql.kind, healthPort: this.health?.port, apiPort: this.api?.port,
    });
  }

  /**
   * Graceful stop: no new claims, prefetched jobs handed back at once, running jobs given until
   * SHUTDOWN_TIMEOUT_MS to finish, then aborted and handed back; singleton leases released.
   */
  async stop(): Promise<void> {
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
    ]);
    await this.health?.close();
    await this.events.disconnect();
    await this.redis?.close();
    if (!this.options.sql) await this.sql.close();
    this.state = 'stopped';
    this.log.info('stopped');
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
          name: def.name, role: def.role, concurrency: concurrencyOf(def, this.options.config),
          inFlight: s.running, buffered: s.buffered, completed: s.completed, failed: s.failed, leaseLost: s.leaseLost,
          lastPollAt: s.lastPollAt === null ? null : new Date(s.lastPollAt).toISOString(),
          idle: s.idle, depth: byName.get(def.name) ?? null,
        };
      }),
      loops: this.loops.map((l) => l.status()),
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

  private startQueue(def: QueueDefinition): void {
    const { config } = this.options;
    const queue = this.services.queue;
    const log = this.log.child(`Queue:${def.name}`);
    const policy = retryPolicy(def, config);
    const leaseMs = config.VISIBILITY_TIMEOUT * 1000;
    const source: ConsumerSource<Job> = {
      claim: (limit) => queue.claim(def.name, {
        limit, leaseMs, workerId: this.processId,
        ...(def.groupConcurrency !== undefined && { groupConcurrency: def.groupConcurrency }),
      }),
      complete: (jobs) => queue.complete(def.name, jobs, config.NOVA_RETAIN_COMPLETED > 0),
      fail: async (job, error) => {
        const outcome = await queue.fail(job, error, {
          retryDelayMs: error instanceof RetryLater ? error.retryAfterMs : retryDelayMs(policy, job.attempt),
          dead: error instanceof PermanentFailure,
        });
        const fields = { jobId: job.id, attempt: job.attempt, error };
        if (outcome === 'dead') log.error('job dead-lettered', fields);
        else if (outcome === 'retry') log.warn('job failed, will retry', fields);
      },
      extend: (jobs) => queue.extend(jobs, leaseMs),
      release: async (jobs) => {
        await queue.release(jobs);
      },
      nextDueInMs: async () => {
        const at = await queue.nextDueAt(def.name);
        return at === null ? null : at.getTime() - Date.now();
      },
    };
    const consumer = new Consumer<Job>(
      source,
      (job, signal) => this.runHandler(def, job, signal, log),
      {
        concurrency: concurrencyOf(def, config),
        batchSize: def.batchSize ?? config.BATCH_SIZE,
        pollIntervalMs: config.POLL_INTERVAL_MS,
        heartbeatMs: Math.max(50, Math.floor(leaseMs / 3)),
        ...(def.timeoutMs !== undefined && { timeoutMs: def.timeoutMs }),
      },
      {
        onError: (err, where) => log.error(`consumer error in ${where}`, { error: err }),
        onSettled: (job, outcome, ms) => {
          this.metrics.jobs.inc({ queue: def.name, outcome });
          this.metrics.duration.observe({ queue: def.name }, ms / 1000);
          if (outcome === 'lease-lost') log.warn('lease lost before ack; the job will run again', { jobId: job.id });
        },
      },
    );
    this.queues.set(def.name, { def, consumer });
    consumer.start();
  }

  private async runHandler(def: QueueDefinition, job: Job, signal: AbortSignal, log: Logger): Promise<void> {
    let payload = job.payload;
    if (def.schema) {
      const parsed = def.schema.safeParse(job.payload);
      if (!parsed.success) throw new InvalidPayload(`invalid payload: ${parsed.error.message}`);
      payload = parsed.data;
    }
    await def.handler(payload, {
      job: { ...job, payload },
      signal,
      log: log.child(`Queue:${def.name}`, { jobId: job.id }),
      progress: async (data) => {
        await this.services.queue.progress(job, data);
      },
      services: this.services,
    });
  }
}

/** Which database this process works on, for names shared outside it (a Redis channel). */
function databaseIdentity(config: Config): string {
  if (!config.DATABASE_URL) return `pglite:${config.NOVA_DATA_DIR}`;
  const url = new URL(config.DATABASE_URL);
  return `${url.hostname}:${url.port || 5432}${url.pathname}`;
}

function concurrencyOf(def: QueueDefinition, config: Config): number {
  return typeof def.concurrency === 'function' ? def.concurrency(config) : (def.concurrency ?? 1);
}

function retryPolicy(def: QueueDefinition, config: Config): RetryPolicy {
  return { ...DEFAULT_RETRY, ...(typeof def.retry === 'function' ? def.retry(config) : def.retry) };
}
