import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { HttpError } from '../runtime/http-error.ts';
import { plainString } from '../runtime/http-input.ts';
import type { Services } from '../runtime/domain.ts';
import { publishProgress, type ProgressPublisher } from './progress.ts';
import { BACKFILL_QUEUE, backfillDedupKey, THREAD_QUEUE, threadDedupKey } from './queues.ts';
import { ensureInbox, findInboxById, listInboxes, listThreads, threadMessages } from './store.ts';
import * as state from './sync-state.ts';
import { backfillView, failedThreadView, inboxListingView, inboxView, messageView, progressView, runView, threadView } from './views.ts';

/**
 * Inbox and backfill routes on the API server:
 * - `POST /api/inboxes` {grantId, email?, provider?}: connects an inbox (idempotent per grant);
 * - `GET /api/inboxes`: the connected inboxes with their backfill phase;
 * - `POST /api/inboxes/:id/backfill` {since?, until?}: starts a backfill, 202;
 * - `GET /api/backfills/:configId`: its progress (the seed's get_sync_progress); `GET /api/backfills`;
 * - `GET /api/backfill-runs`, `GET /api/backfills/:configId/runs`: every run kept, newest first;
 * - `GET /api/backfills/:configId/failed-threads`: the current run's failed threads and their dead jobs;
 * - `POST /api/backfills/:configId/retry-failed`: queues those threads again, reopening the run;
 * - `GET /api/inboxes/:id/threads`, `GET /api/threads/:id/messages`: the stored mailbox.
 */

/** The widest window a backfill may cover, and its default: one year back from now. */
export const MAX_BACKFILL_DAYS = 365;
const DAY_MS = 86_400_000;
/** Clock skew tolerated between a client's "now" and ours. */
const SKEW_MS = 5 * 60_000;

const createInbox = z.strictObject({
  grantId: plainString(256),
  email: z.email().optional(),
  provider: plainString(64).optional(),
});

const backfillRange = z.strictObject({
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});

const idParam = z.object({ id: z.uuid({ error: 'must be a UUID' }) });
const configParam = z.object({ configId: z.uuid({ error: 'must be a UUID' }) });
const runsQuery = z.object({
  configId: z.uuid({ error: 'must be a UUID' }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
const failedQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(200) });
/** Dead thread jobs looked at per request when matching failed threads to their jobs. */
const DEAD_JOBS_SCANNED = 1000;
const threadsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.iso.datetime({ offset: true }).optional(),
});

export function inboxRoutes(app: FastifyInstance, services: Services, deps?: { progress: ProgressPublisher }): void {
  const { sql, queue } = services;

  /** The dead thread jobs of a backfill, by thread id (the newest per thread). */
  const deadThreadJobs = async (configId: string): Promise<Map<string, number>> => {
    const jobs = await queue.listJobs(THREAD_QUEUE, 'dead', DEAD_JOBS_SCANNED, undefined, { payload: { configId } });
    const byThread = new Map<string, number>();
    for (const job of jobs) {
      const threadId = (job.payload as { threadId?: unknown }).threadId;
      if (typeof threadId === 'string' && !byThread.has(threadId)) byThread.set(threadId, job.id);
    }
    return byThread;
  };
  const configOr404 = async (configId: string) => {
    const config = await state.getConfiguration(sql, configId);
    if (!config) throw new HttpError(404, 'not_found', `no backfill ${configId}`);
    return config;
  };

  app.post('/api/inboxes', async (req, reply) => {
    const body = createInbox.parse(req.body ?? {});
    const result = await sql.transaction(async (tx) => {
      const inbox = await ensureInbox(tx, body.grantId, body.email, body.provider);
      return { inbox, configId: await state.ensureConfiguration(tx, inbox.id) };
    });
    return reply.status(201).send({
      inbox: inboxView(result.inbox),
      configId: result.configId,
    });
  });

  app.get('/api/inboxes', async () => ({ inboxes: (await listInboxes(sql)).map(inboxListingView) }));

  app.post('/api/inboxes/:id/backfill', async (req, reply) => {
    const { id } = idParam.parse(req.params);
    const range = backfillWindow(backfillRange.parse(req.body ?? {}), Date.now());
    const inbox = await findInboxById(sql, id);
    if (!inbox) throw new HttpError(404, 'not_found', `no inbox ${id}`);
    if (inbox.status !== 'active') throw new HttpError(409, 'inbox_inactive', `inbox ${id} is ${inbox.status}; reconnect its grant first`);
    const started = await sql.transaction(async (tx) => {
      const configId = await state.ensureConfiguration(tx, id);
      const run = await state.openRun(tx, configId, range.since, range.until);
      if (run === undefined) return { configId };
      const [jobId] = await services.queue.sendBatch(BACKFILL_QUEUE, [{ payload: { configId, run }, dedupKey: backfillDedupKey(configId, run), groupKey: configId }], tx);
      await state.recordHistory(tx, configId, run, 'started', { since: range.since, until: range.until }, 'api');
      return { configId, run, jobId };
    });
    if (started.run === undefined) {
      throw new HttpError(409, 'backfill_running', `a backfill of ${inbox.email ?? inbox.grant_id} is already running; wait for it to end`);
    }
    return reply.status(202).send({ ...started, since: range.since.toISOString(), until: range.until.toISOString() });
  });

  app.get('/api/backfills', async () => ({ backfills: (await state.allProgress(sql)).map(backfillView) }));

  app.get('/api/backfill-runs', async (req) => {
    const { configId, limit } = runsQuery.parse(req.query);
    return { runs: (await state.listRuns(sql, configId ?? null, limit)).map(runView) };
  });

  app.get('/api/backfills/:configId/runs', async (req) => {
    const { configId } = configParam.parse(req.params);
    const { limit } = runsQuery.parse(req.query);
    await configOr404(configId);
    return { runs: (await state.listRuns(sql, configId, limit)).map(runView) };
  });

  app.get('/api/backfills/:configId/failed-threads', async (req) => {
    const { configId } = configParam.parse(req.params);
    const { limit } = failedQuery.parse(req.query);
    await configOr404(configId);
    const [threads, jobs] = await Promise.all([state.failedThreads(sql, configId, limit), deadThreadJobs(configId)]);
    return { threads: threads.map((t) => failedThreadView(t, jobs.get(t.thread_id))) };
  });

  // "Retry failed": the dead jobs of the failed threads go back to their queue (keeping their ids
  // and history); a failed thread whose dead job is gone (pruned) gets a new job. The run reopens
  // in thread_sync, and the completion monitor completes it again with the new counts.
  app.post('/api/backfills/:configId/retry-failed', async (req, reply) => {
    const { configId } = configParam.parse(req.params);
    const config = await configOr404(configId);
    const who = await inboxName(config.inbox_id);
    if (config.backfill_status !== 'completed') {
      throw new HttpError(409, 'backfill_not_completed', config.backfill_status === 'failed'
        ? `the backfill of ${who} failed in discovery (${config.backfill_status}); start a new one instead`
        : `the backfill of ${who} is ${config.backfill_status.replace('_', ' ')}; retry its failed threads once it ends`);
    }
    const failed = new Set((await state.failedThreads(sql, configId, 100_000)).map((t) => t.thread_id));
    // Redriven first and outside the transaction (the queue client's own statement): a redriven
    // job that runs before the reopen below claims its failed thread itself (START_THREADS), and
    // auto-recovery reopens the run; the jobs sent below find the redriven ones by dedup key.
    const dead = [...(await deadThreadJobs(configId))].filter(([threadId]) => failed.has(threadId)).map(([, id]) => id);
    const redriven = dead.length ? await queue.redrive(THREAD_QUEUE, dead) : [];
    const reopened = await sql.transaction(async (tx) => {
      const row = await state.reopenFailed(tx, configId);
      if (!row || row.threads.length === 0) return row;
      await queue.sendBatch(THREAD_QUEUE, row.threads.map((threadId) => ({
        payload: { configId, threadId }, dedupKey: threadDedupKey(configId, threadId), groupKey: configId,
      })), tx);
      await state.recordHistory(tx, configId, row.run, 'recovered', { retryFailed: row.threads.length }, 'api');
      return row;
    });
    if (reopened?.threads.length && deps) publishProgress(deps, configId, 'thread_sync');
    // Every failed thread is queued again, by one path or the other.
    return reply.status(202).send({ configId, run: config.backfill_run, retried: failed.size, redriven: redriven.length });
  });

  const inboxName = async (inboxId: string) => {
    const inbox = await findInboxById(sql, inboxId);
    return inbox?.email ?? inbox?.grant_id ?? inboxId;
  };

  app.get('/api/inboxes/:id/threads', async (req) => {
    const { id } = idParam.parse(req.params);
    const { limit, before } = threadsQuery.parse(req.query);
    if (!(await findInboxById(sql, id))) throw new HttpError(404, 'not_found', `no inbox ${id}`);
    const threads = await listThreads(sql, id, limit, before === undefined ? undefined : new Date(before));
    return { threads: threads.map(threadView) };
  });

  app.get('/api/threads/:id/messages', async (req) => {
    const { id } = idParam.parse(req.params);
    return { messages: (await threadMessages(sql, id)).map(messageView) };
  });

  app.get('/api/backfills/:configId', async (req) => {
    const { configId } = configParam.parse(req.params);
    const progress = await state.syncProgress(sql, configId);
    if (!progress) throw new HttpError(404, 'not_found', `no inbox configuration ${configId}`);
    return progressView(progress);
  });
}

/**
 * The window a backfill covers: `until` defaults to now, `since` to a year before it. A window
 * reaching back more than a year, inverted, or ending in the future is refused.
 */
export function backfillWindow(input: { since?: string; until?: string }, now: number): { since: Date; until: Date } {
  const until = input.until === undefined ? new Date(now) : new Date(input.until);
  const since = input.since === undefined ? new Date(until.getTime() - MAX_BACKFILL_DAYS * DAY_MS) : new Date(input.since);
  if (until.getTime() > now + SKEW_MS) throw new HttpError(400, 'invalid_range', 'until is in the future');
  if (since.getTime() >= until.getTime()) throw new HttpError(400, 'invalid_range', 'since must be before until');
  if (since.getTime() < now - MAX_BACKFILL_DAYS * DAY_MS - SKEW_MS) {
    throw new HttpError(400, 'invalid_range', `a backfill reaches back at most ${MAX_BACKFILL_DAYS} days (one year)`);
  }
  return { since, until };
}
