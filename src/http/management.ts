import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { JobRecord } from '../queue/queue.ts';
import type { QueueMetrics } from '../queue/types.ts';
import { HttpError } from '../runtime/http-error.ts';
import { plainString } from '../runtime/http-input.ts';
import type { Services } from '../runtime/domain.ts';
import { listWorkers } from '../runtime/registry.ts';

/**
 * Management routes of the `api` role (docs/API.md): queues with their counts, job lists, retry,
 * delete and redrive, the worker registry, and seed 003's `/api/queue/stats`. The bearer token
 * (NOVA_API_TOKEN) is checked for every /api route by the API server itself.
 */

const STATES = ['waiting', 'delayed', 'active', 'failed', 'completed', 'dead'] as const;

const queueParam = z.object({ name: plainString(200) });
const jobParam = z.object({ id: z.coerce.number({ error: 'must be a job id' }).int().positive() });
const jobsQuery = z.object({
  state: z.enum(STATES).default('waiting'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce.number().int().positive().optional(),
});

const signalBody = z.strictObject({ key: z.string().min(1).max(500), data: z.unknown().optional() });

export function managementRoutes(app: FastifyInstance, services: Services): void {
  const { queue } = services;

  const stats = async (name: string) => toStats(await queue.metrics(name));
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
    const { state, limit, before } = jobsQuery.parse(req.query);
    await known(name);
    const rows = await queue.listJobs(name, state, limit + 1, before);
    const page = rows.slice(0, limit);
    return { jobs: page.map(toView), next: rows.length > limit ? page[page.length - 1]!.id : null };
  });

  app.get('/api/jobs/:id', async (req) => toView(await job(services, jobParam.parse(req.params).id)));

  app.post('/api/jobs/:id/retry', async (req) => {
    const { id } = jobParam.parse(req.params);
    const before = await job(services, id);
    if (!(await queue.retryJob(id))) {
      throw new HttpError(409, 'not_retryable', `job ${id} is ${stateOf(before)}: only dead, failed or delayed jobs can be retried`);
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

  // Seed 003's shape, for the tools written against it: its four queues under the seed's keys
  // (present even before their first job), every other queue under its own name.
  app.get('/api/queue/stats', async () => {
    const names = new Set([...(await queue.queues()), ...Object.keys(SEED_003_KEYS)]);
    const all = await Promise.all([...names].map((name) => queue.metrics(name)));
    return {
      success: true,
      stats: Object.fromEntries(all.map((m) => [
        SEED_003_KEYS[m.queue] ?? m.queue,
        { waiting: m.waiting + m.delayed, active: m.active, completed: m.completed, failed: m.retrying + m.dead },
      ])),
    };
  });
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

/** The state as an operator sees it: a queued job is waiting, delayed, or failed (awaiting its retry). */
function stateOf(j: JobRecord): (typeof STATES)[number] | 'parked' | 'cancelled' {
  if (j.state !== 'queued') return j.state;
  if (j.attempts > 0) return 'failed';
  return j.run_at && j.run_at.getTime() > Date.now() ? 'delayed' : 'waiting';
}

function toView(j: JobRecord) {
  return {
    id: j.id,
    queue: j.queue,
    state: stateOf(j),
    payload: j.payload,
    priority: j.priority,
    attempts: j.attempts,
    maxAttempts: j.max_attempts,
    groupKey: j.group_key,
    dedupKey: j.dedup_key,
    createdAt: j.created_at,
    runAt: j.run_at,
    startedAt: j.started_at,
    finishedAt: j.finished_at,
    lastError: j.last_error ? { name: j.last_error.name, message: j.last_error.message, ...(j.last_error.stack && { stack: j.last_error.stack }) } : null,
    progress: j.progress,
    ...(j.result !== undefined && { result: j.result }),
    ...(j.signal_key && { signalKey: j.signal_key }),
    ...(j.cancel_requested && { cancelRequested: true }),
  };
}

function toStats(m: QueueMetrics) {
  return {
    name: m.queue,
    waiting: m.waiting,
    delayed: m.delayed,
    active: m.active,
    completed: m.completed,
    failed: m.retrying,
    dead: m.dead,
    throughputPerMinute: m.throughputPerMinute,
    oldestWaitingMs: m.oldestWaitingMs,
  };
}
