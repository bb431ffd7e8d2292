import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AttemptRecord, JobFilters, JobRecord } from '../queue/queue.ts';
import type { QueueMetrics, StoredError } from '../queue/types.ts';
import { HttpError } from '../runtime/http-error.ts';
import { plainString } from '../runtime/http-input.ts';
import type { Services } from '../runtime/domain.ts';
import { listWorkers } from '../runtime/registry.ts';
import { registerHistoryRoutes } from './queue-history.ts';

/**
 * Management routes of the `api` role (docs/API.md): queues with their counts, job lists with
 * search, retry, delete and redrive, the worker registry, and seed 003's `/api/queue/stats`. The
 * bearer token (NOVA_API_TOKEN) is checked for every /api route by the API server itself.
 */

export const STATES = ['waiting', 'scheduled', 'active', 'completed', 'dead'] as const;
/** The names before the states were one vocabulary (docs/API.md), still accepted in ?state=. */
const OLD_STATES: Record<string, { state: 'scheduled'; reason?: 'delayed' | 'retry' }> = {
  delayed: { state: 'scheduled', reason: 'delayed' },
  failed: { state: 'scheduled', reason: 'retry' },
  retrying: { state: 'scheduled', reason: 'retry' },
};

const queueParam = z.object({ name: plainString(200) });
const jobParam = z.object({ id: z.coerce.number({ error: 'must be a job id' }).int().positive() });
const jobsQuery = z.object({
  state: z.enum(STATES).default('waiting'),
  reason: z.enum(['delayed', 'retry']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce.number().int().positive().optional(),
  error: z.string().min(1).max(200).optional(),
  from: z.coerce.date().optional(),
  to: z.coerce.date().optional(),
});

const signalBody = z.strictObject({ key: z.string().min(1).max(500), data: z.unknown().optional() });

export function managementRoutes(app: FastifyInstance, services: Services): void {
  const { queue } = services;

  const stats = async (name: string) => toStats(await queue.metrics(name), services);
  const known = async (name: string) => {
    if (!(await queue.queues()).includes(name)) throw new HttpError(404, 'not_found', `no queue ${name}`);
  };

  app.get('/api/queues', async () => ({ queues: await Promise.all((await queue.queues()).map(stats)) }));

  app.get('/api/queues/:name', async (req) => {
    const { name } = queueParam.parse(req.params);
    await known(name);
    return stats(name);
  });

  app.get('/api/queues/:name/jobs', async (req) => {
    const { name } = queueParam.parse(req.params);
    const raw = { ...(req.query as Record<string, unknown>) };
    const old = typeof raw.state === 'string' ? OLD_STATES[raw.state] : undefined;
    if (old) Object.assign(raw, old.reason && !raw.reason ? { state: old.state, reason: old.reason } : { state: old.state });
    const { state, reason, limit, before, error, from, to } = jobsQuery.parse(raw);
    const filters: JobFilters = {
      ...(payloadFilter(raw) && { payload: payloadFilter(raw)! }),
      ...(error && { error }), ...(from && { from }), ...(to && { to }), ...(reason && { reason }),
    };
    await known(name);
    const rows = await queue.listJobs(name, state, limit + 1, before, filters);
    const page = rows.slice(0, limit);
    return { jobs: page.map((j) => toView(j)), next: rows.length > limit ? page[page.length - 1]!.id : null };
  });

  app.get('/api/jobs/:id', async (req) => {
    const found = await job(services, jobParam.parse(req.params).id);
    return toView(found, await services.queue.attemptsOf(found));
  });

  app.post('/api/jobs/:id/retry', async (req) => {
    const { id } = jobParam.parse(req.params);
    const before = await job(services, id);
    if (!(await queue.retryJob(id))) {
      throw new HttpError(409, 'not_retryable', `job ${id} is ${stateOf(before)}: only dead or scheduled jobs can be retried`);
    }
    return { job: toView(await job(services, id)) };
  });

  app.delete('/api/jobs/:id', async (req) => {
    const { id } = jobParam.parse(req.params);
    const found = await job(services, id);
    if (!(await queue.deleteJob(id))) throw new HttpError(409, 'job_running', `job ${id} is ${stateOf(found)}; it cannot be deleted while it runs`);
    return { deleted: true };
  });

  app.post('/api/jobs/:id/cancel', async (req) => {
    const { id } = jobParam.parse(req.params);
    const found = await job(services, id);
    const outcome = await queue.cancel(id);
    if (!outcome) throw new HttpError(409, 'not_cancellable', `job ${id} is ${stateOf(found)}: only waiting, parked or running jobs can be cancelled`);
    return { outcome, job: toView(await job(services, id)) };
  });

  // Wakes every job parked on the key (QueueClient.park), handing each the data.
  app.post('/api/signals', async (req) => {
    const { key, data } = signalBody.parse(req.body);
    return { woken: await queue.signal(key, data ?? null) };
  });

  app.post('/api/queues/:name/redrive', async (req) => {
    const { name } = queueParam.parse(req.params);
    await known(name);
    const ids = await queue.redrive(name);
    return { redriven: ids.length, ids };
  });

  app.get('/api/workers', async () => ({ workers: await listWorkers(services.sql) }));

  registerHistoryRoutes(app, services, known);

  // Seed 003's shape, for the tools written against it: its four queues under the seed's keys
  // (present even before their first job), every other queue under its own name.
  app.get('/api/queue/stats', async () => {
    const names = new Set([...(await queue.queues()), ...Object.keys(SEED_003_KEYS)]);
    const all = await Promise.all([...names].map((name) => queue.metrics(name)));
    return {
      success: true,
      stats: Object.fromEntries(all.map((m) => [
        SEED_003_KEYS[m.queue] ?? m.queue,
        { waiting: m.waiting + m.scheduled - m.scheduledRetry, active: m.active, completed: m.completed, failed: m.scheduledRetry + m.dead },
      ])),
    };
  });
}

/**
 * `payload.<path>=<value>` query parameters as one containment object: `payload.threadId=t1`
 * is `{"threadId":"t1"}`, `payload.a.b=2` is `{"a":{"b":2}}`. A value that parses as JSON (a
 * number, true, a "quoted string") is taken as such, anything else as a string.
 */
export function payloadFilter(query: Record<string, unknown>): Record<string, unknown> | undefined {
  let filter: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(query)) {
    if (!key.startsWith('payload.') || typeof value !== 'string') continue;
    const path = key.slice('payload.'.length).split('.');
    if (path.some((p) => !p)) throw new HttpError(400, 'invalid_request', `payload filter ${key}: empty field name`);
    filter ??= {};
    let at = filter;
    for (const field of path.slice(0, -1)) at = (at[field] ??= {}) as Record<string, unknown>;
    at[path[path.length - 1]!] = jsonOrString(value);
  }
  return filter;
}

function jsonOrString(value: string): unknown {
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'object' && parsed !== null ? value : parsed;
  } catch {
    return value;
  }
}
/** Seed 003's getQueueStats() keys of its queues. */
const SEED_003_KEYS: Record<string, string> = {
  'daily-brief': 'dailyBrief', 'document-processing': 'documentProcessing', 'email-processing': 'emailProcessing', 'source-sync': 'sourceSync',
};

async function job(services: Services, id: number): Promise<JobRecord> {
  const found = await services.queue.getJob(id);
  if (!found) throw new HttpError(404, 'not_found', `no job ${id}`);
  return found;
}

/** The state as an operator sees it: a queued job is waiting, or scheduled (not due yet). */
function stateOf(j: JobRecord): (typeof STATES)[number] | 'parked' | 'cancelled' {
  if (j.state !== 'queued') return j.state;
  return j.run_at && j.run_at.getTime() > Date.now() ? 'scheduled' : 'waiting';
}

function reasonOf(j: JobRecord): 'delayed' | 'retry' | null {
  if (j.scheduled_reason !== undefined) return j.scheduled_reason ?? null;
  if (stateOf(j) !== 'scheduled') return null;
  return j.attempts > 0 ? 'retry' : 'delayed';
}

/** Whether running the job again could change anything: not for a payload its schema refuses. */
function retryableError(e: StoredError | null): boolean {
  return !e || !(e.name === 'InvalidPayload' || e.message.startsWith('invalid payload:'));
}

function errorView(e: StoredError, depth = 0): Record<string, unknown> {
  return {
    name: e.name, message: e.message, ...(e.code && { code: e.code }), ...(e.stack && { stack: e.stack }),
    ...(e.cause && depth < 5 && { cause: errorView(e.cause, depth + 1) }),
  };
}

/** A job as the API shows it; `history` (its attempts) on the single-job route. */
function toView(j: JobRecord, history?: AttemptRecord[]) {
  const state = stateOf(j);
  return {
    id: j.id,
    queue: j.queue,
    state,
    scheduledReason: reasonOf(j),
    payload: j.payload,
    result: j.result ?? null,
    priority: j.priority,
    attempts: j.attempts,
    maxAttempts: j.max_attempts,
    ...(history && {
      attemptHistory: history.map((a) => ({
        attempt: a.attempt,
        startedAt: a.startedAt,
        finishedAt: a.finishedAt,
        durationMs: a.startedAt && a.finishedAt ? a.finishedAt.getTime() - a.startedAt.getTime() : null,
        worker: a.worker,
        outcome: a.outcome,
        error: a.error ? errorView(a.error) : null,
      })),
    }),
    groupKey: j.group_key,
    dedupKey: j.dedup_key,
    createdAt: j.created_at,
    runAt: j.run_at,
    startedAt: j.started_at,
    finishedAt: j.finished_at,
    lastError: j.last_error ? errorView(j.last_error) : null,
    retryable: (state === 'dead' || state === 'scheduled') && retryableError(j.last_error),
    progress: j.progress,
    ...(j.signal_key && { signalKey: j.signal_key }),
    ...(j.cancel_requested && { cancelRequested: true }),
  };
}

function toStats(m: QueueMetrics, services: Services) {
  const c = services.config;
  return {
    name: m.queue,
    waiting: m.waiting,
    scheduled: m.scheduled,
    scheduledReasons: { delayed: m.scheduled - m.scheduledRetry, retry: m.scheduledRetry },
    active: m.active,
    completed: m.completed,
    dead: m.dead,
    /** What retention keeps of finished jobs, so "completed" can say "last 100 kept". */
    retention: { completed: c.NOVA_RETAIN_COMPLETED, dead: c.NOVA_RETAIN_FAILED, maxAgeHours: c.NOVA_RETAIN_MAX_AGE_HOURS },
    processed: { lastHour: m.processedLastHour, lastDay: m.processedLastDay },
    throughputPerMinute: m.throughputPerMinute,
    oldestWaitingMs: m.oldestWaitingMs,
  };
}
