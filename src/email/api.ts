import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { HttpError } from '../runtime/http-error.ts';
import { plainString } from '../runtime/http-input.ts';
import type { Services } from '../runtime/domain.ts';
import { BACKFILL_QUEUE, backfillDedupKey } from './queues.ts';
import { ensureInbox, findInboxById, listInboxes, listThreads, threadMessages } from './store.ts';
import * as state from './sync-state.ts';
import { backfillView, inboxListingView, inboxView, messageView, progressView, threadView } from './views.ts';

/**
 * Inbox and backfill routes on the API server:
 * - `POST /api/inboxes` {grantId, email?, provider?}: connects an inbox (idempotent per grant);
 * - `GET /api/inboxes`: the connected inboxes with their backfill phase;
 * - `POST /api/inboxes/:id/backfill` {since?, until?}: starts a backfill, 202;
 * - `GET /api/backfills/:configId`: its progress (the seed's get_sync_progress); `GET /api/backfills`;
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
const threadsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.iso.datetime({ offset: true }).optional(),
});

export function inboxRoutes(app: FastifyInstance, services: Services): void {
  const { sql } = services;

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
