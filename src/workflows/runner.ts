/**
 * Role `workflow-runner`: one `workflow.tick` job runs one tick of a run. The tick takes the run
 * (a lease fenced by the job's own lease token), executes the workflow function from the start
 * with stored steps replayed, and ends at completion, failure, or the first step that waits; the
 * waits, the jobs that will end them and the run's new status commit together.
 */
import { z } from 'zod';
import { RetryLater } from '../queue/errors.ts';
import type { JobContext } from '../runtime/domain.ts';
import type { Queryable } from '../storage/index.ts';
import { Execution, type InlineSteps, type PendingWait } from './context.ts';
import { definitionForRun, resolveStart, HTTP_QUEUE, TICK_QUEUE, type WorkflowEngine } from './engine.ts';
import { TickLost, toStoredError } from './errors.ts';
import { publishRun, publishStep, publishStored } from './events.ts';
import { createApprovals } from './approvals.ts';
import { cancelApprovalsOfEndedRuns } from './approval-store.ts';
import * as store from './store.ts';
import { deliverStoredEvents, lockEventNames } from './event-store.ts';
import { AGENT_QUEUE } from './agent-types.ts';
import { applyAgentPatch } from './agent-patches.ts';

export const tickJob = z.object({ runId: z.uuid() });
export type TickJob = z.infer<typeof tickJob>;

type Outcome = { wake: boolean; undeclared?: true; ownError?: unknown };

export async function runTick(engine: WorkflowEngine, payload: TickJob, ctx: JobContext<TickJob>): Promise<void> {
  await tick(engine, payload.runId, ctx, { handBack: false });
}

/** What an inline tick did with the run (see agent-runner.ts). */
export interface InlineOutcome {
  /** The run was not taken (another tick holds it, or it ended) or its workflow is not declared here. */
  skipped: boolean;
  /** The own model call's error, for its job to retry. */
  ownError?: unknown;
}

/**
 * Ticks a run under the lease of another role's job: an agent job running an inline tick
 * (`inline`), whose agent sub-steps execute in this process, or a notification's dispatch job
 * running the delivery run it started without a tick (notify/dispatch.ts). A run whose workflow
 * this process does not declare is handed back (`skipped`) for a `workflow.tick` job to run: the
 * dispatch queues one; an agent job's reply ticks the run when it completes the step.
 */
export function tickRun(engine: WorkflowEngine, runId: string, ctx: JobContext<unknown>, inline?: InlineSteps): Promise<InlineOutcome> {
  return tick(engine, runId, ctx, { handBack: true, inline });
}

/** A `workflow.tick` job (`handBack: false`) retries a run it cannot run until a runner that can takes it. */
async function tick(engine: WorkflowEngine, runId: string, ctx: JobContext<unknown>, how: { handBack: boolean; inline?: InlineSteps }): Promise<InlineOutcome> {
  await engine.ready;
  let run = await acquire(engine, runId, ctx);
  if (!run) return { skipped: true };
  while (run) {
    const outcome = await execute(engine, run, ctx, how);
    if (outcome.undeclared) return { skipped: true };
    if (outcome.ownError !== undefined) {
      // The job retries its call later; a run woken meanwhile goes on in role workflow-runner.
      if (outcome.wake) await engine.services.queue.sendBatch(TICK_QUEUE, [{ payload: { runId } }]);
      return { skipped: false, ownError: outcome.ownError };
    }
    // Something woke the run while this tick held it (an event, a child's end): go again here.
    run = outcome.wake ? await acquire(engine, runId, ctx) : undefined;
  }
  return { skipped: false };
}

async function acquire(engine: WorkflowEngine, runId: string, ctx: JobContext<unknown>): Promise<store.LeasedRun | undefined> {
  const { sql, queue } = engine.services;
  const { id, token } = ctx.job;
  for (let i = 0; i < 10; i++) {
    const run = await engine.acquires.add({ runId, job: id, token });
    if (run) return run;
    const holder = await store.runHolder(sql, runId);
    if (!holder || store.TERMINAL.includes(holder.status)) return undefined;
    if (holder.lease_token === null || holder.lease_job === null) continue; // let go meanwhile
    if (await queue.holdsLease({ id: holder.lease_job, token: holder.lease_token })) {
      // The holder is alive: it runs one more tick when it lets go, which sees our news.
      if (await store.requestWake(sql, runId, holder.lease_token)) return undefined;
      continue;
    }
    // The holder's job lease lapsed (its process died): take the run over.
    const taken = await store.acquireRun(sql, runId, id, token, holder.lease_token);
    if (taken) return taken;
  }
  throw new RetryLater(100, `run ${runId} stayed contended`);
}

async function execute(engine: WorkflowEngine, run: store.LeasedRun, ctx: JobContext<unknown>, how: { handBack: boolean; inline?: InlineSteps }): Promise<Outcome> {
  const { services } = engine;
  const { inline } = how;
  const token = ctx.job.token;
  const def = await definitionForRun(engine, run);
  if (!def) {
    // Another runner (a newer or older deployment) may declare this version; hand the run back.
    await store.releaseRun(services.sql, run.id, token, run.was === 'running' ? 'waiting' : run.was);
    if (how.handBack) return { wake: false, undeclared: true };
    throw new RetryLater(5000, `workflow ${run.workflow} version ${run.version} is not declared in this process`);
  }
  if (run.deadline_at && run.deadline_at.getTime() <= Date.now()) {
    await endTree(engine, run.id, 'timed_out', { name: 'RunTimedOut', message: `run did not finish by ${run.deadline_at.toISOString()}` });
    return { wake: false };
  }
  if (run.was === 'queued') {
    if (run.concurrency_key && def.options.concurrency && !(await admit(engine, run, token, def.options.concurrency.limit))) return { wake: false };
    publishRun(services, 'run.started', run, { version: run.version });
  }

  const steps = new Map(run.steps.map((s) => [s.step_id, s]));
  const exec = new Execution(
    {
      checkpoint: async (write) => {
        if (!(await engine.checkpoints.add(write))) throw new TickLost(`run ${run.id} was lost or cancelled`);
        publishStored(services, run.id, write);
      },
      expireWait: (runId, stepId) => store.expireWaitingStep(services.sql, runId, stepId),
      resolveChild: (wf, input) => resolveStart(engine, wf, input),
      patchRun: (stepId, operations, description) => applyAgentPatch(engine, run, stepId, operations, description),
      ...(inline && { inline }),
    },
    run.id, token, steps, def.options.retry,
  );

  let result: { ok: true; output: unknown } | { ok: false; error: unknown };
  try {
    const output = await def.fn({
      input: run.input, step: exec.api(),
      run: { id: run.id, workflow: run.workflow, version: run.version, parentRunId: run.parent_run_id, attempt: ctx.job.attempt },
    });
    result = { ok: true, output };
  } catch (error) {
    result = { ok: false, error };
  }
  await exec.settle();
  if (!result.ok && result.error instanceof TickLost) return { wake: false };
  if (exec.suspended) {
    const outcome = await suspend(engine, run, token, exec);
    return exec.ownError === undefined ? outcome : { ...outcome, ownError: exec.ownError };
  }
  if (result.ok) return finish(engine, run, token, exec, 'completed', result.output ?? null, null);
  return finish(engine, run, token, exec, 'failed', null, toStoredError(result.error));
}

/** A tick that ends in a wait: its run, its lease token, and the waits it registered. */
export interface SuspendItem {
  run: Pick<store.LeasedRun, 'id' | 'workflow'>;
  token: number;
  waits: readonly PendingWait[];
  /** Steps that completed in the tick and are not written yet (Execution.unwritten). */
  completed: readonly StepDone[];
  /** An inline tick hands the run back: a tick of it is enqueued. */
  tick?: boolean;
}

type StepDone = Execution['unwritten'][number];

/**
 * Ends a tick at its waits. Ticks of many runs suspending at once in this process share one
 * transaction (the engine's `suspends` batcher, see commitSuspends).
 */
async function suspend(engine: WorkflowEngine, run: store.LeasedRun, token: number, exec: Execution): Promise<Outcome> {
  const { services } = engine;
  const released = await engine.suspends.add({ run, token, waits: exec.waits, completed: exec.unwritten, tick: exec.needsTick });
  if (!released) return { wake: false };
  for (const c of exec.unwritten) publishStored(services, run.id, c);
  for (const w of exec.waits) publishStep(services, w.step.status === 'retrying' ? 'step.retrying' : 'step.waiting', run.id, w.step, w.step.error?.message);
  publishRun(services, 'run.waiting', run);
  return { wake: released.wake };
}

/**
 * Commits suspending ticks of many runs in one transaction: each run still held by its tick is
 * let go to `waiting` and, for those runs only, its steps are written (one statement, which also
 * locks the rows), event waits are checked against events already stored, and
 * the jobs that end the waits are enqueued (one statement per queue); ticks whose waits need only
 * ticks and model calls take one statement and no transaction (commitPlainSuspends). Returns, per
 * item, undefined when its tick had lost the run, else whether the run must tick again at once
 * (woken meanwhile, or a stored event already ended its wait).
 */
export async function commitSuspends(engine: WorkflowEngine, items: readonly SuspendItem[]): Promise<(Outcome | undefined)[]> {
  const { sql, queue } = engine.services;
  if (items.every((i) => i.waits.every(needsOnlyJobs))) return commitPlainSuspends(engine, items);
  return sql.transaction(async (tx) => {
    // The release and, for the runs still held, their steps (completed, then waits): one statement.
    const released = new Map((await store.releaseRunsWithSteps(tx, items.map((i) => ({ runId: i.run.id, token: i.token })), items.flatMap((i) => [
      ...i.completed.map((c) => ({ ...c, runId: i.run.id, token: i.token })),
      ...i.waits.map((w) => ({ ...w.step, runId: i.run.id, token: i.token })),
    ]))).map((r) => [r.id, r.wake]));
    const held = items.filter((i) => released.has(i.run.id));
    const waits = held.flatMap((i) => i.waits.map((w) => ({ item: i, w })));
    const eventNames = waits.flatMap(({ w }) => (w.step.kind === 'waitForEvent' && w.step.eventName ? [w.step.eventName] : []));
    // Before the stored events are looked at, and held until the commit: an event sent meanwhile
    // either took its lock first (and is stored before deliverStoredEvents below looks), or waits
    // for this commit and then sees the waits.
    await lockEventNames(tx, eventNames);
    const woken = new Set(await deliverStoredEvents(tx, waits
      .filter(({ w }) => w.step.kind === 'waitForEvent' && w.step.status === 'waiting')
      .map(({ item, w }) => ({ runId: item.run.id, stepId: w.step.stepId }))));
    const ticks: { payload: TickJob; runAt?: Date; delayMs?: number }[] = held.filter((i) => i.tick).map((i) => ({ payload: { runId: i.run.id } }));
    const http: { payload: unknown; maxAttempts: number }[] = [];
    for (const { item, w } of waits) {
      if (w.tickAt) ticks.push({ payload: { runId: item.run.id }, runAt: w.tickAt });
      if (w.child) {
        // The child and its first (and deadline) tick in one statement.
        const { jobIds } = await store.insertRunsTicked(tx, [w.child], { queue: TICK_QUEUE, enqueue: (...a) => queue.enqueueFromSql(...a) });
        queue.announce(TICK_QUEUE, jobIds, tx);
      }
      if (w.http) {
        http.push({
          payload: { runId: item.run.id, stepId: w.step.stepId, request: w.http.request, options: w.http.options },
          maxAttempts: w.http.options.maxAttempts ?? 3,
        });
      }
    }
    if (ticks.length) await queue.sendBatch(TICK_QUEUE, ticks, tx);
    if (http.length) await queue.sendBatch(HTTP_QUEUE, http as never, tx);
    const models = waits.flatMap(({ item, w }) => (w.agent ? [{ payload: { runId: item.run.id, stepId: w.step.stepId, request: w.agent } }] : []));
    if (models.length) await queue.sendBatch(AGENT_QUEUE, models as never, tx);
    const approvals = waits.flatMap(({ w }) => (w.approval ? [w.approval] : []));
    if (approvals.length) await createApprovals(engine, tx, approvals);
    return items.map((i) => (released.has(i.run.id) ? { wake: released.get(i.run.id)! || woken.has(i.run.id) } : undefined));
  });
}

/** A wait that only queues a tick or a model call: no event check, child run, HTTP job or approval. */
const needsOnlyJobs = (w: PendingWait) => w.step.kind !== 'waitForEvent' && !w.child && !w.http && !w.approval;

/**
 * commitSuspends for ticks whose waits only need ticks and model calls queued (sleeps, retries, an
 * agent's model call, an inline tick handing back): the release, the steps and the jobs in one
 * statement, without a transaction's two extra round trips.
 */
async function commitPlainSuspends(engine: WorkflowEngine, items: readonly SuspendItem[]): Promise<(Outcome | undefined)[]> {
  const { sql, queue } = engine.services;
  const ticks = items.flatMap((i) => [
    ...(i.tick ? [{ runId: i.run.id, at: null }] : []),
    ...i.waits.flatMap((w) => (w.tickAt ? [{ runId: i.run.id, at: w.tickAt }] : [])),
  ]);
  const agents = items.flatMap((i) => i.waits.flatMap((w) => (w.agent ? [{ runId: i.run.id, stepId: w.step.stepId, request: w.agent }] : [])));
  const { released, tickJobs, agentJobs } = await store.releaseRunsQueued(sql, items.map((i) => ({ runId: i.run.id, token: i.token })), items.flatMap((i) => [
    ...i.completed.map((c) => ({ ...c, runId: i.run.id, token: i.token })),
    ...i.waits.map((w) => ({ ...w.step, runId: i.run.id, token: i.token })),
  ]), ticks, agents, { tick: TICK_QUEUE, agent: AGENT_QUEUE, enqueue: (...a) => queue.enqueueFromSql(...a) });
  queue.announce(TICK_QUEUE, tickJobs);
  queue.announce(AGENT_QUEUE, agentJobs);
  const wake = new Map(released.map((r) => [r.id, r.wake]));
  return items.map((i) => (wake.has(i.run.id) ? { wake: wake.get(i.run.id)! } : undefined));
}

async function finish(engine: WorkflowEngine, run: store.LeasedRun, token: number, exec: Execution, status: 'completed' | 'failed', output: unknown, error: store.StoredError | null): Promise<Outcome> {
  const { services } = engine;
  const { sql } = services;
  const release = (db: Queryable) => store.releaseRun(db, run.id, token, status, output, error);
  const steps = exec.unwritten.map((c) => ({ ...c, runId: run.id, token }));
  // The common case, a top-level run with no concurrency key, shares one statement with the
  // other runs ending in this process now; the steps not written yet go in that statement too.
  const released = run.parent_run_id === null && run.concurrency_key === null
    ? await engine.finishes.add({ runId: run.id, token, status, output, error, steps })
    : await sql.transaction(async (tx) => {
      if ((await store.saveSteps(tx, steps)).size !== steps.length) return undefined;
      const r = await release(tx);
      if (r) await afterEnd(engine, tx, { id: run.id, workflow: run.workflow, parent_run_id: r.parent_run_id, parent_step_id: r.parent_step_id, concurrency_key: r.concurrency_key }, status, output, error);
      return r;
    });
  if (!released) return { wake: false };
  for (const c of exec.unwritten) publishStored(services, run.id, c);
  publishRun(services, status === 'completed' ? 'run.completed' : 'run.failed', run, { ...(error && { error: error.message }) });
  return { wake: false };
}

/**
 * What a run's end owes others, in the ending transaction: its parent's waiting step gets the
 * child's outcome and a tick; the oldest queued run of its concurrency key gets a tick.
 */
export async function afterEnd(
  engine: WorkflowEngine, tx: Queryable,
  run: { id: string; workflow: string; parent_run_id: string | null; parent_step_id: string | null; concurrency_key: string | null },
  status: store.RunStatus, output: unknown, error: store.StoredError | null,
): Promise<void> {
  const ticks: { payload: TickJob }[] = [];
  if (run.parent_run_id && run.parent_step_id) {
    const outcome = { runId: run.id, status, output: output ?? null, error: error ? { name: error.name, message: error.message } : null };
    if (await store.completeWaitingStep(tx, run.parent_run_id, run.parent_step_id, 'completed', outcome, null)) {
      ticks.push({ payload: { runId: run.parent_run_id } });
    }
  }
  if (run.concurrency_key) {
    const { next } = await store.concurrencySlots(tx, run.workflow, run.concurrency_key);
    if (next) ticks.push({ payload: { runId: next } });
  }
  if (ticks.length) await engine.services.queue.sendBatch(TICK_QUEUE, ticks, tx);
}

/** Cancels or times out a run and its descendants, telling each one's parent. */
export async function endTree(engine: WorkflowEngine, runId: string, status: 'cancelled' | 'timed_out', error: store.StoredError): Promise<number> {
  const { services } = engine;
  const ended = await services.sql.transaction(async (tx) => {
    const rows = await store.cancelTree(tx, runId, status, error);
    await cancelApprovalsOfEndedRuns(tx, rows.map((r) => r.id));
    for (const r of rows) {
      // Descendants' parents are in the tree and ended too: only the root's parent is told. Each
      // ended run frees its concurrency slot.
      const root = r.id === runId;
      if (!root && !r.concurrency_key) continue;
      await afterEnd(engine, tx, root ? r : { ...r, parent_run_id: null }, root ? status : 'cancelled', null, error);
    }
    return rows;
  });
  for (const r of ended) publishRun(services, r.id === runId && status === 'timed_out' ? 'run.timed_out' : 'run.cancelled', r);
  return ended.length;
}

/** Admission of a run with a concurrency key; false puts it back to queued until a slot frees. */
async function admit(engine: WorkflowEngine, run: store.LeasedRun, token: number, limit: number): Promise<boolean> {
  return engine.services.sql.transaction(async (tx) => {
    await store.lockConcurrencyKey(tx, run.workflow, run.concurrency_key!);
    const { active } = await store.concurrencySlots(tx, run.workflow, run.concurrency_key!);
    // `active` counts this run too: it is running since acquireRun.
    if (active <= limit) return true;
    await store.deferRun(tx, run.id, token);
    return false;
  });
}

/**
 * Loop `workflow-recovery` (singleton, role workflow-runner): a run left `running` by a tick job
 * that no longer holds it (its job was dead-lettered after repeated infrastructure failures, or
 * deleted) gets a fresh tick, so neither it nor a parent waiting on it stays stuck. A live holder
 * is left alone; until the engine has onDead hooks this sweep is how such runs come back.
 */
export async function recoverStrandedRuns(engine: WorkflowEngine, idleMs: number): Promise<number> {
  const { sql, queue } = engine.services;
  const candidates = await store.idleRunningRuns(sql, idleMs, 500);
  const stranded: string[] = [];
  for (const r of candidates) {
    if (r.lease_job !== null && r.lease_token !== null && (await queue.holdsLease({ id: r.lease_job, token: r.lease_token }))) continue;
    stranded.push(r.id);
  }
  if (stranded.length) {
    await queue.sendBatch(TICK_QUEUE, stranded.map((runId) => ({ payload: { runId } })));
    engine.log.warn('ticked runs no job was holding', { runs: stranded.length });
  }
  return stranded.length;
}
