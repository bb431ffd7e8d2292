/**
 * What the API, the CLI and other domains do to runs: start, cancel, send an event, re-run from
 * the failed step. Each change commits with the jobs it needs; events go out after the commit.
 */
import { randomUUID } from 'node:crypto';
import type { Workflow } from './define.ts';
import { resolveStart, TICK_QUEUE, type WorkflowEngine } from './engine.ts';
import { publishRun } from './events.ts';
import { childTicks, endTree } from './runner.ts';
import * as store from './store.ts';

export interface StartOptions {
  /** The same key for the same workflow returns the run it started first. */
  idempotencyKey?: string;
  /** Pin a version; default the newest (code declared in this process, or the document's tag). */
  version?: number;
  submittedBy?: string;
}

export async function startRun(engine: WorkflowEngine, workflow: Workflow<any, any> | string, input: unknown, options: StartOptions = {}): Promise<{ run: store.RunRow; created: boolean }> {
  const target = await resolveStart(engine, workflow, input, options.version);
  const { sql, queue } = engine.services;
  const result = await sql.transaction(async (tx) => {
    const r = await store.insertRun(tx, {
      id: randomUUID(), workflow: target.name, version: target.version, input: target.input,
      idempotencyKey: options.idempotencyKey ?? null, concurrencyKey: target.concurrencyKey,
      submittedBy: options.submittedBy ?? 'system', timeoutMs: target.timeoutMs,
    });
    if (r.created) await queue.sendBatch(TICK_QUEUE, childTicks(r.run.id, target.timeoutMs), tx);
    return r;
  });
  if (result.created) publishRun(engine.services, 'run.queued', result.run, { version: result.run.version });
  return result;
}

/** Cancels a live run and its descendants; returns how many runs ended (0: it was not live). */
export async function cancelRun(engine: WorkflowEngine, runId: string): Promise<number> {
  return endTree(engine, runId, 'cancelled', { name: 'RunCancelled', message: 'cancelled' });
}

/** Delivers an event to every run waiting for it with a matching `match`; returns those runs. */
export async function sendEvent(engine: WorkflowEngine, name: string, data: unknown): Promise<string[]> {
  const { sql, queue } = engine.services;
  return sql.transaction(async (tx) => {
    const woken = await store.deliverEvent(tx, name, data);
    const runs = [...new Set(woken.map((w) => w.run_id))];
    if (runs.length) await queue.sendBatch(TICK_QUEUE, runs.map((runId) => ({ payload: { runId } })), tx);
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
