/**
 * What the API, the CLI and other domains do to runs: start, cancel, send an event, re-run from
 * the failed step. Each change commits with the jobs it needs; events go out after the commit.
 */
import { randomUUID } from 'node:crypto';
import type { WorkflowsConfig } from './config.ts';
import type { Workflow } from './define.ts';
import { resolveStart, TICK_QUEUE, type WorkflowEngine } from './engine.ts';
import { publishRun } from './events.ts';
import { endTree } from './runner.ts';
import * as store from './store.ts';
import { deliverEvent } from './event-store.ts';

export interface StartOptions {
  /** The same key for the same workflow returns the run it started first. */
  idempotencyKey?: string;
  /** Pin a version; default the newest (code declared in this process, or the document's tag). */
  version?: number;
  submittedBy?: string;
  /**
   * False: no tick is queued for role workflow-runner; the caller ticks the run itself, at once,
   * under its own job's lease (runner.ts tickRun), as notifications' dispatch does. A crash before
   * that tick leaves the run to the caller's job's next attempt.
   */
  tick?: boolean;
}

export async function startRun(engine: WorkflowEngine, workflow: Workflow<any, any> | string, input: unknown, options: StartOptions = {}): Promise<{ run: store.RunRow; created: boolean }> {
  const target = await resolveStart(engine, workflow, input, options.version);
  // Starts arriving together share one transaction (the engine's `starts` batcher).
  const result = await engine.starts.add({
    id: randomUUID(), workflow: target.name, version: target.version, input: target.input,
    idempotencyKey: options.idempotencyKey ?? null, concurrencyKey: target.concurrencyKey,
    submittedBy: options.submittedBy ?? 'system', timeoutMs: target.timeoutMs, ...(options.tick === false && { tick: false }),
  });
  if (result.created) publishRun(engine.services, 'run.queued', result.run, { version: result.run.version });
  return result;
}

/** The run a workflow started with this idempotency key, if any. */
export async function findRun(engine: WorkflowEngine, workflow: string, idempotencyKey: string): Promise<store.RunRow | undefined> {
  return store.runByKey(engine.services.sql, workflow, idempotencyKey);
}

/** Cancels a live run and its descendants; returns how many runs ended (0: it was not live). */
export async function cancelRun(engine: WorkflowEngine, runId: string): Promise<number> {
  return endTree(engine, runId, 'cancelled', { name: 'RunCancelled', message: 'cancelled' });
}

/** Delivers an event to every run waiting for it with a matching `match`; returns those runs. */
export async function sendEvent(engine: WorkflowEngine, name: string, data: unknown): Promise<string[]> {
  const { sql, queue } = engine.services;
  return sql.transaction(async (tx) => {
    // The waits it ends and their runs' ticks in one statement.
    const { runs, jobIds } = await deliverEvent(tx, name, data, { queue: TICK_QUEUE, enqueue: (...a) => queue.enqueueFromSql(...a) });
    queue.announce(TICK_QUEUE, jobIds, tx);
    return runs;
  });
}

/**
 * Runs a failed (or timed-out) run again from its failed step: completed steps are kept and
 * replayed from storage, the failed ones run anew. Undefined when the run is not failed.
 */
export async function rerunFromFailure(engine: WorkflowEngine, runId: string): Promise<store.RunRow | undefined> {
  const { sql, queue } = engine.services;
  const run = await sql.transaction(async (tx) => {
    const r = await store.resetFailedRun(tx, runId);
    if (r) await queue.sendBatch(TICK_QUEUE, [{ payload: { runId } }], tx);
    return r;
  });
  if (run) publishRun(engine.services, 'run.queued', run, { rerun: true });
  return run;
}

/**
 * The per-identity limit on starting runs through the API (POST /api/workflows/:name/runs and
 * POST /api/v1/workflows/:tag/execute share it): WORKFLOW_START_RATE_LIMIT runs per minute, the
 * original's 50 by default, as a token bucket in the database (runtime/rate-limit.ts), so every
 * API replica draws from the same one. Undefined: go ahead (a token was taken); else how long to
 * wait. A limit of 0 turns it off.
 */
export async function checkStartLimit(engine: WorkflowEngine, identity: string): Promise<{ limit: number; retryAfterSeconds: number } | undefined> {
  const limit = (engine.services.config as Partial<WorkflowsConfig>).WORKFLOW_START_RATE_LIMIT ?? 50;
  if (limit === 0) return undefined;
  const waitMs = await engine.services.rateLimiter.tryTake(`workflow-start:${identity}`, { capacity: limit, perSecond: limit / 60 });
  return waitMs === 0 ? undefined : { limit, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
}

/**
 * Whom a start counts against: the caller's X-User-ID (the identity the routes act for; behind
 * NOVA_API_TOKEN when one is set), else `system`.
 */
export function startIdentity(req: { headers: Record<string, string | string[] | undefined> }): string {
  const user = req.headers['x-user-id'];
  return typeof user === 'string' && user ? user : 'system';
}
