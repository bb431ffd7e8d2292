/**
 * Nova's own workflow routes (docs/API.md):
 * - `GET /api/workflows`: workflows with their newest version and run counts;
 * - `PUT /api/workflows/:name/document` {workflow}: stores a document as the next version (201);
 * - `POST /api/workflows/:name/runs` {input, idempotencyKey?, version?}: starts a run (201), or
 *   returns the run an idempotency key already started (200);
 * - `GET /api/runs?workflow&status&limit&before`: runs, newest first, paged;
 * - `GET /api/runs/:id`: a run with its step timeline and child runs;
 * - `POST /api/runs/:id/cancel`: cancels the run and its descendants;
 * - `POST /api/runs/:id/rerun`: re-runs a failed run from its failed step;
 * - `POST /api/events` {name, data}: resumes every run waiting for a matching event.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { HttpError } from '../runtime/http-error.ts';
import { createDocument } from './document/catalog.ts';
import { DocumentError } from './document/validate.ts';
import type { WorkflowEngine } from './engine.ts';
import { cancelRun, checkStartLimit, rerunFromFailure, sendEvent, startIdentity, startRun } from './service.ts';
import * as store from './store.ts';

const startBody = z.strictObject({
  input: z.unknown().optional(),
  idempotencyKey: z.string().min(1).max(256).optional(),
  version: z.number().int().positive().optional(),
});
const runsQuery = z.object({
  workflow: z.string().min(1).optional(),
  status: z.enum(['queued', 'running', 'waiting', 'completed', 'failed', 'cancelled', 'timed_out']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.iso.datetime({ offset: true }).optional(),
});
const idParam = z.object({ id: z.uuid({ error: 'must be a UUID' }) });
const nameParam = z.object({ name: z.string().min(1).max(200) });
const eventBody = z.strictObject({ name: z.string().min(1).max(200), data: z.unknown().optional() });

export function workflowRoutes(app: FastifyInstance, engine: WorkflowEngine): void {
  const { sql } = engine.services;

  app.get('/api/workflows', async () => ({ workflows: await store.listWorkflows(sql) }));

  app.put('/api/workflows/:name/document', async (req, reply) => {
    const { name } = nameParam.parse(req.params);
    const { workflow } = z.object({ workflow: z.unknown() }).parse(req.body ?? {});
    try {
      const row = await sql.transaction((tx) => createDocument(tx, name, userOf(req.headers), workflow));
      return reply.status(201).send({ name: row.name, version: row.version, hash: row.definition_hash });
    } catch (err) {
      if (err instanceof DocumentError) throw new HttpError(400, 'invalid_workflow', err.message);
      throw err;
    }
  });

  app.post('/api/workflows/:name/runs', async (req, reply) => {
    const { name } = nameParam.parse(req.params);
    const body = startBody.parse(req.body ?? {});
    const header = req.headers['idempotency-key'];
    const idempotencyKey = body.idempotencyKey ?? (typeof header === 'string' && header ? header : undefined);
    const limited = await checkStartLimit(engine, startIdentity(req));
    if (limited) {
      throw new HttpError(429, 'rate_limited', `at most ${limited.limit} run starts per minute per user; retry in ${limited.retryAfterSeconds} s`, { retryAfterSeconds: limited.retryAfterSeconds });
    }
    const { run, created } = await startRun(engine, name, body.input, {
      ...(idempotencyKey && { idempotencyKey }), ...(body.version && { version: body.version }), submittedBy: userOf(req.headers),
    });
    return reply.status(created ? 201 : 200).send({ run: runJson(run), created });
  });

  app.get('/api/runs', async (req) => {
    const q = runsQuery.parse(req.query);
    const { before, ...filter } = q;
    const runs = await store.listRuns(sql, { ...filter, ...(before && { before: new Date(before) }) });
    const last = runs.length === q.limit ? runs[runs.length - 1] : undefined;
    return { runs: runs.map(runJson), next: last ? last.created_at.toISOString() : null };
  });

  app.get('/api/runs/:id', async (req) => {
    const { id } = idParam.parse(req.params);
    const run = await store.getRun(sql, id);
    if (!run) throw new HttpError(404, 'not_found', `no run ${id}`);
    const [steps, children] = await Promise.all([store.getSteps(sql, id), store.childRuns(sql, id)]);
    return { run: runJson(run), steps: steps.map(stepJson), children };
  });

  app.post('/api/runs/:id/cancel', async (req) => {
    const { id } = idParam.parse(req.params);
    const cancelled = await cancelRun(engine, id);
    if (cancelled === 0) {
      const run = await store.getRun(sql, id);
      if (!run) throw new HttpError(404, 'not_found', `no run ${id}`);
      throw new HttpError(409, 'run_finished', `run ${id} is ${run.status}`);
    }
    return { cancelled };
  });

  app.post('/api/runs/:id/rerun', async (req, reply) => {
    const { id } = idParam.parse(req.params);
    const run = await rerunFromFailure(engine, id);
    if (!run) {
      const existing = await store.getRun(sql, id);
      if (!existing) throw new HttpError(404, 'not_found', `no run ${id}`);
      throw new HttpError(409, 'run_not_failed', `run ${id} is ${existing.status}; only failed or timed-out runs re-run`);
    }
    return reply.status(202).send({ run: runJson(run) });
  });

  app.post('/api/events', async (req, reply) => {
    const body = eventBody.parse(req.body ?? {});
    const runs = await sendEvent(engine, body.name, body.data ?? {});
    return reply.status(202).send({ event: body.name, resumed: runs.length, runs });
  });
}

export function userOf(headers: Record<string, string | string[] | undefined>): string {
  const user = headers['x-user-id'];
  return typeof user === 'string' && user ? user : 'system';
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const duration = (a: Date | string | null, b: Date | string | null) => (a && b ? new Date(b).getTime() - new Date(a).getTime() : null);

export function runJson(r: store.RunRow) {
  return {
    id: r.id, workflow: r.workflow, version: r.version, status: r.status, input: r.input, output: r.output, error: r.error,
    idempotencyKey: r.idempotency_key, parentRunId: r.parent_run_id, parentStepId: r.parent_step_id, submittedBy: r.submitted_by,
    createdAt: iso(r.created_at), startedAt: iso(r.started_at), finishedAt: iso(r.finished_at), durationMs: duration(r.created_at, r.finished_at),
  };
}

export function stepJson(s: store.StepRow) {
  return {
    stepId: s.step_id, kind: s.kind, status: s.status, attempt: s.attempt, input: s.input, output: s.output, error: s.error,
    wakeAt: iso(s.wake_at), childRunId: s.child_run_id, startedAt: iso(s.started_at), finishedAt: iso(s.finished_at),
    durationMs: duration(s.started_at, s.finished_at),
  };
}
