/**
 * One execution of a run's function in a tick: the step API, replaying stored steps and
 * suspending at the first step that has to wait. It writes only completed inline steps (through
 * the engine's batched, lease-fenced checkpoint); the waits it registers are written by the
 * runner when the tick ends, with the jobs that will end them, in one transaction.
 */
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_STEP_RETRY, durationMs, stepRetryDelayMs,
  type ApprovalOptions, type ApprovalOutcome, type ChildOutcome, type InvokeOptions, type StepApi, type StepRetry, type StepRunOptions, type WaitForEvent, type Workflow,
} from './define.ts';
import { ChildRunFailed, StepFailed, Suspend, toStoredError } from './errors.ts';
import { httpOptionsSchema, httpRequestSchema, type HttpRequest, type HttpResponse, type HttpStepOptions } from './http-types.ts';
import type { NewRun, StepRow, StepWrite } from './store.ts';
import type { NewApproval } from './approval-store.ts';
import { checkForm } from './approval-form.ts';
import { runAgent } from './agent.ts';
import type { ModelReply, ModelRequest } from './agent-types.ts';
import type { StoredError } from './store.ts';

/** A wait registered in this tick, and what the runner must create for it to end. */
export interface PendingWait {
  step: Omit<StepWrite, 'runId' | 'token'>;
  /** A tick of this run due then (sleep, timeout, retry backoff). */
  tickAt?: Date;
  child?: NewRun;
  http?: { request: HttpRequest; options: HttpStepOptions };
  approval?: NewApproval;
  /** A model call of a step.agent, for role agent-runner. */
  agent?: ModelRequest;
}

/** A child workflow resolved to the version it will run on. */
export interface ChildTarget {
  name: string;
  version: number;
  timeoutMs: number | null;
  concurrencyKey: string | null;
  input: unknown;
}

/**
 * An inline tick (role agent-runner, see agent-runner.ts): the agent sub-steps it may execute in
 * this process instead of handing them to another role. Anything else that would start a side
 * effect (a step.run, a code tool) hands the run back to role workflow-runner with a tick.
 */
export interface InlineSteps {
  /** The waiting model step whose job this tick runs in: the only stored wait it may execute. */
  ownStep: string;
  /** No new model call starts after this time (ms since the epoch): the next one goes to a job. */
  until: number;
  /**
   * Calls the model (tokens stream as it answers); throws as a model job would. The call draws its
   * budgets at once, then calls `ready` and is sent once that resolves (not at all if it rejects).
   */
  model(stepId: string, request: ModelRequest, ready: () => Promise<void>): Promise<ModelReply>;
  /** An agent's HTTP tool, every attempt; undefined when it cannot finish here (the job is aborted). */
  http(stepId: string, request: HttpRequest, options: HttpStepOptions): Promise<InlineHttpOutcome | undefined>;
}

export interface InlineHttpOutcome {
  status: 'completed' | 'failed';
  output: HttpResponse | null;
  error: StoredError | null;
  attempt: number;
}

/** What an execution needs from the engine. */
export interface ExecutionDeps {
  /** Stores a finished inline step; throws TickLost when the tick lost its run. */
  checkpoint(write: StepWrite): Promise<void>;
  /** Marks a timed-out wait done unless something completed it first; returns the step's output. */
  expireWait(runId: string, stepId: string): Promise<Pick<StepRow, 'output'>>;
  resolveChild(workflow: Workflow<any, any> | string, input: unknown): Promise<ChildTarget>;
  /** Applies an agent's JSON Patch to this run's document (agent-patches.ts); absent, agents cannot patch. */
  patchRun?(stepId: string, operations: unknown, description: string | null): Promise<unknown>;
  /** Set in an inline tick (role agent-runner). */
  inline?: InlineSteps;
}

export class Execution {
  readonly waits: PendingWait[] = [];
  /**
   * Completed steps not written yet: written before the next side effect of this execution (a
   * step.run body, an agent's record or patch), in one statement with that step's own write when
   * it has one, so no step's side effect runs before its predecessors are stored (an inline
   * tick's model calls and safe HTTP tools go while the flush is written, and their outcomes
   * wait for it: see `model` and `http`); else by the
   * runner with the run's end or waits, in the same statement or transaction. A step that only
   * registers a wait or replays a stored outcome writes nothing on its own. A crash before the
   * write repeats them, as it would repeat a step whose checkpoint had not committed.
   */
  readonly unwritten: Omit<StepWrite, 'runId' | 'token'>[] = [];
  /** Of `unwritten`, how many must be stored before a side effect (a sleep's end need not be). */
  private pendingEffects = 0;
  suspended = false;
  /** An inline tick that must hand the run back: the runner enqueues a tick with its waits. */
  needsTick = false;
  /** The inline tick's own model call failed: nothing is stored, and its job retries. */
  ownError: unknown;
  /** A write failed (the run was lost or cancelled): no new model call is sent. */
  private lost = false;
  private readonly seen = new Map<string, number>();
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    private readonly deps: ExecutionDeps,
    readonly runId: string,
    private readonly token: number,
    private readonly steps: Map<string, StepRow>,
    private readonly retry: Partial<StepRetry> | undefined,
  ) {}

  /** Resolves once every step started in this tick has settled (and stored its outcome). */
  async settle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  api(): StepApi {
    return {
      run: (id, fn, options) => this.track(this.runStep(this.uniqueId(id), 'run', fn, options, true)),
      sleep: (id, d) => this.track(this.sleepUntil(this.uniqueId(id), durationMs(d))),
      sleepUntil: (id, at) => this.track(this.sleepUntil(this.uniqueId(id), new Date(at))),
      waitForEvent: (id, wait) => this.track(this.waitForEvent(this.uniqueId(id), wait)),
      invoke: (id, wf, input, options) => this.track(this.invoke(this.uniqueId(id), wf, input, options)) as Promise<any>,
      map: (id, items, fn, options) => this.track(this.map(this.uniqueId(id), items, fn, options?.concurrency)) as Promise<any>,
      http: (id, request, options) => this.track(this.http(this.uniqueId(id), request, options)),
      approval: (id, options) => this.track(this.approval(this.uniqueId(id), options)) as Promise<any>,
      agent: (id, options) => this.track(this.agent(this.uniqueId(id), options)) as Promise<any>,
    };
  }

  /** A repeated id in one execution (a loop) gets `#2`, `#3`, ...: stable as long as the code is. */
  private uniqueId(id: string): string {
    if (typeof id !== 'string' || id.length === 0 || id.length > 200) throw new Error('a step id must be a non-empty string of at most 200 characters');
    const n = (this.seen.get(id) ?? 0) + 1;
    this.seen.set(id, n);
    return n === 1 ? id : `${id}#${n}`;
  }

  /**
   * Before a side effect: writes the completed steps not written yet (see `unwritten`) that hold
   * an outcome a side effect may rely on, together with `step` when given (one statement: the
   * checkpoints batch).
   */
  private async flush(step?: Omit<StepWrite, 'runId' | 'token'>): Promise<void> {
    const writes = this.pendingEffects > 0 || step ? this.unwritten.splice(0) : [];
    this.pendingEffects = 0;
    if (step) writes.push(step);
    // Parallel steps (map lanes, Promise.all): a flush also waits for the writes another lane's
    // flush took, so no lane's side effect starts before every earlier step is stored.
    const mine = writes.length ? Promise.all(writes.map((w) => this.write(w))) : undefined;
    const before = this.flushing;
    const all = Promise.all([before, mine]).then(() => undefined);
    all.catch(() => (this.lost = true));
    this.flushing = all;
    await all;
  }
  private flushing: Promise<void> = Promise.resolve();

  /** A completed step written with the next side effect's flush, or with the tick's end. */
  private defer(step: Omit<StepWrite, 'runId' | 'token'>, effect: boolean): void {
    this.unwritten.push(step);
    if (effect) this.pendingEffects++;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  private suspend(): never {
    this.suspended = true;
    throw new Suspend();
  }

  private handBack(): never {
    this.needsTick = true;
    return this.suspend();
  }

  private wait(w: PendingWait): never {
    // The step began when it was called, not when the tick commits its wait.
    w.step.startedAt ??= new Date();
    this.waits.push(w);
    return this.suspend();
  }

  private write(step: Omit<StepWrite, 'runId' | 'token'>): Promise<void> {
    return this.deps.checkpoint({ ...step, runId: this.runId, token: this.token });
  }

  private async runStep<T>(sid: string, kind: 'run' | 'map', fn: (signal: AbortSignal) => Promise<T> | T, options?: StepRunOptions, defer = false): Promise<T> {
    const stored = this.steps.get(sid);
    if (stored?.status === 'completed') return stored.output as T;
    if (stored?.status === 'failed') throw new StepFailed(sid, stored.error);
    if (stored?.status === 'retrying' && due(stored.wake_at) > Date.now()) return this.suspend();
    // Once a sibling step suspended, start no new side effect: the next tick does it.
    if (this.suspended || stored?.status === 'cancelled') return this.suspend();
    // Code runs where it always did, in role workflow-runner: an inline tick hands the run back.
    if (this.deps.inline) return this.handBack();
    await this.flush();
    // A sibling (a map lane) may have suspended while the flush ran.
    if (this.suspended) return this.suspend();
    const policy: StepRetry = { ...DEFAULT_STEP_RETRY, ...this.retry, ...options?.retry };
    const attempt = (stored?.attempt ?? 0) + 1;
    const startedAt = new Date();
    let value: T;
    try {
      value = await attemptWithTimeout(fn, options?.timeoutMs);
    } catch (err) {
      if (err instanceof Suspend) throw new Error(`step ${sid}: steps cannot be called inside step.run`);
      const error = toStoredError(err);
      if (attempt < policy.maxAttempts) {
        const wakeAt = new Date(Date.now() + stepRetryDelayMs(policy, attempt));
        return this.wait({ step: { stepId: sid, kind, status: 'retrying', attempt, error, wakeAt, startedAt }, tickAt: wakeAt });
      }
      await this.flush({ stepId: sid, kind, status: 'failed', attempt, error, startedAt, finished: true });
      throw new StepFailed(sid, error);
    }
    const output = (value === undefined ? null : value) as T;
    const done = { stepId: sid, kind, status: 'completed' as const, attempt, output, startedAt, finished: true };
    if (defer) this.defer(done, true);
    else await this.flush(done);
    return output;
  }

  /**
   * A sleep of `until` ms (step.sleep) lasts that long from when it is called. Its end is no side
   * effect: it is written with the next one, or with the tick's end (a crash before that ends the
   * sleep again on replay).
   */
  private async sleepUntil(sid: string, until: Date | number): Promise<void> {
    const at = typeof until === 'number' ? new Date(Date.now() + until) : until;
    if (Number.isNaN(at.getTime())) throw new Error(`step ${sid}: invalid time`);
    const stored = this.steps.get(sid);
    if (stored?.status === 'completed') return;
    if (stored?.status === 'waiting') {
      if (due(stored.wake_at) > Date.now()) return this.suspend();
      this.defer({ stepId: sid, kind: 'sleep', status: 'completed', attempt: 1, wakeAt: new Date(due(stored.wake_at)), finished: true }, false);
      return;
    }
    if (this.suspended) return this.suspend();
    if (at.getTime() <= Date.now()) {
      this.defer({ stepId: sid, kind: 'sleep', status: 'completed', attempt: 1, wakeAt: at, finished: true }, false);
      return;
    }
    return this.wait({ step: { stepId: sid, kind: 'sleep', status: 'waiting', attempt: 1, wakeAt: at, input: { until: at.toISOString() } }, tickAt: at });
  }

  private async waitForEvent<T>(sid: string, w: WaitForEvent): Promise<T | null> {
    const stored = this.steps.get(sid);
    if (stored?.status === 'completed') return stored.output as T | null;
    if (stored?.status === 'waiting') {
      if (stored.wake_at === null || due(stored.wake_at) > Date.now()) return this.suspend();
      // Timed out, unless the event completed the step in the meantime (first one wins).
      const row = await this.deps.expireWait(this.runId, sid);
      return row.output as T | null;
    }
    if (this.suspended) return this.suspend();
    if (!w || typeof w.event !== 'string' || !w.event) throw new Error(`step ${sid}: waitForEvent needs an event name`);
    const wakeAt = w.timeout === undefined ? null : new Date(Date.now() + durationMs(w.timeout));
    return this.wait({
      step: {
        stepId: sid, kind: 'waitForEvent', status: 'waiting', attempt: 1, wakeAt, eventName: w.event, eventMatch: w.match ?? {},
        input: { event: w.event, match: w.match ?? {}, timeoutAt: wakeAt?.toISOString() ?? null },
      },
      ...(wakeAt && { tickAt: wakeAt }),
    });
  }

  private async invoke(sid: string, wf: Workflow<any, any> | string, input: unknown, options: InvokeOptions = {}): Promise<unknown> {
    const policy = options.onChildFailure ?? 'fail';
    const stored = this.steps.get(sid);
    if (stored?.status === 'completed') return childResult(sid, stored.output as ChildOutcome, policy);
    if (stored?.status === 'waiting') return this.suspend();
    if (this.suspended) return this.suspend();
    return this.wait(await this.childWait(sid, wf, input, policy));
  }

  private async childWait(sid: string, wf: Workflow<any, any> | string, input: unknown, policy: string): Promise<PendingWait> {
    const target = await this.deps.resolveChild(wf, input);
    const childId = randomUUID();
    return {
      step: {
        stepId: sid, kind: 'invoke', status: 'waiting', attempt: 1, childRunId: childId, startedAt: new Date(),
        input: { workflow: target.name, version: target.version, onChildFailure: policy },
      },
      child: {
        id: childId, workflow: target.name, version: target.version, input: target.input, parentRunId: this.runId, parentStepId: sid,
        // A retried tick of the parent finds the child it already made instead of a second one.
        idempotencyKey: `${this.runId}:${sid}`, concurrencyKey: target.concurrencyKey, timeoutMs: target.timeoutMs,
      },
    };
  }

  private async map(sid: string, items: readonly unknown[], fn: ((item: any, i: number) => unknown) | Workflow<any, any> | string, concurrency = 10): Promise<unknown[]> {
    const limit = Math.max(1, Math.floor(concurrency));
    if (typeof fn !== 'function') return this.mapChildren(sid, items, fn, limit);
    const results: unknown[] = new Array(items.length);
    let next = 0;
    let suspended = false;
    // A pool of `limit` lanes; each item is a memoized step of its own.
    const lane = async () => {
      while (next < items.length) {
        const i = next++;
        try {
          results[i] = await this.runStep(`${sid}[${i}]`, 'map', () => fn(items[i], i));
        } catch (err) {
          if (!(err instanceof Suspend)) throw err;
          suspended = true;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
    if (suspended) return this.suspend();
    return results;
  }

  private async mapChildren(sid: string, items: readonly unknown[], wf: Workflow<any, any> | string, limit: number): Promise<unknown[]> {
    const results: unknown[] = [];
    let outstanding = 0;
    const start: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const stored = this.steps.get(`${sid}[${i}]`);
      if (stored?.status === 'completed') results[i] = childResult(`${sid}[${i}]`, stored.output as ChildOutcome, 'fail');
      else if (stored?.status === 'waiting') outstanding++;
      else start.push(i);
    }
    if (start.length === 0 && outstanding === 0) return results;
    if (this.suspended) return this.suspend();
    // Fan out up to the concurrency; each child's end wakes this run, which starts the next.
    for (const i of start.slice(0, Math.max(0, limit - outstanding))) {
      this.waits.push(await this.childWait(`${sid}[${i}]`, wf, items[i], 'fail'));
    }
    return this.suspend();
  }

  private async approval(sid: string, options: ApprovalOptions): Promise<ApprovalOutcome> {
    const stored = this.steps.get(sid);
    if (stored?.status === 'completed') return stored.output as ApprovalOutcome;
    if (stored?.status === 'failed') throw new StepFailed(sid, stored.error);
    // Waiting: a decision or the hitl-worker's timeout job completes the step and ticks the run.
    if (stored?.status === 'waiting' || stored?.status === 'cancelled') return this.suspend();
    if (this.suspended) return this.suspend();
    const spec = approvalSpec(sid, options);
    const id = randomUUID();
    return this.wait({
      step: {
        stepId: sid, kind: 'approval', status: 'waiting', attempt: 1,
        input: { approvalId: id, approvers: spec.approvers, required: spec.required, message: spec.message, timeoutAt: spec.timeoutAt?.toISOString() ?? null, onTimeout: spec.onTimeout },
      },
      approval: { ...spec, id, runId: this.runId, stepId: sid },
    });
  }

  private agent(sid: string, options: Parameters<StepApi['agent']>[1]) {
    return runAgent({
      stored: (id) => this.steps.get(id),
      model: (id, request) => this.model(id, request),
      // The agent's outcome is no side effect: written with the next one's flush or the tick's end.
      record: async (id, status, output, error, startedAt) => this.defer({ stepId: id, kind: 'agent', status, attempt: 1, output, error, startedAt, finished: true }, true),
      step: this.api(),
      toolHttp: (id, request, options) => this.track(this.http(this.uniqueId(id), request, options, true)),
      ...(this.deps.patchRun && {
        patchRun: async (stepId: string, operations: unknown, description: string | null) => {
          await this.flush();
          return this.deps.patchRun!(stepId, operations, description);
        },
      }),
    }, sid, options);
  }

  /**
   * One model call of an agent: memoized like step.http, executed by role agent-runner (by a job,
   * or in this execution when it is an inline tick there).
   */
  private async model(sid: string, request: ModelRequest): Promise<ModelReply> {
    const stored = this.steps.get(sid);
    if (stored?.status === 'completed') return stored.output as ModelReply;
    if (stored?.status === 'failed') throw new StepFailed(sid, stored.error);
    const inline = this.deps.inline;
    // The inline tick's own step is a wait already registered, with this tick's job: it runs even
    // when a sibling suspended. Any other stored wait has its own job.
    const own = inline?.ownStep === sid && stored?.status === 'waiting';
    if (!own && (stored?.status === 'waiting' || stored?.status === 'cancelled' || this.suspended)) return this.suspend();
    const input = { model: request.model, messages: request.messages.length, tools: request.tools.map((t) => t.name) };
    const wait: PendingWait = { step: { stepId: sid, kind: 'model', status: 'waiting', attempt: 0, input }, agent: request };
    if (!inline || (!own && Date.now() >= inline.until)) return this.wait(wait);
    // Every earlier step is stored before this call's reply is (the own call's were, with its
    // wait). A model call is the one side effect that goes while they are being written, once its
    // budgets are drawn: it changes nothing but its cost, and its reply, what a crash must not
    // lose, waits for them. A crash in the millisecond the write takes costs the call in flight,
    // as one during any call does. It is not sent once a sibling suspended or a write failed.
    const flushed = own ? Promise.resolve() : this.flush();
    flushed.catch(() => {});
    const ready = () => (!own && (this.suspended || this.lost) ? flushed.then(() => { throw new Suspend(); }) : Promise.resolve());
    const startedAt = stored ? new Date(stored.started_at) : new Date();
    let reply: ModelReply;
    try {
      reply = await inline.model(sid, request, ready);
    } catch (err) {
      await flushed; // a lost run (TickLost) ends the tick here
      if (err instanceof Suspend) return this.suspend();
      if (!own) return this.wait(wait); // a job, with its retries and dead-letter, takes it from here
      this.ownError = err;
      return this.suspend();
    }
    await flushed;
    // Stored before the next side effect (a tool, the next call), or with the run's end or waits.
    this.defer({ stepId: sid, kind: 'model', status: 'completed', attempt: 1, input, output: reply, startedAt, finished: true }, true);
    return reply;
  }

  /** A step.http, run by role http-worker; an agent's HTTP tool in an inline tick runs here. */
  private async http(sid: string, request: HttpRequest, options: HttpStepOptions = {}, tool = false): Promise<HttpResponse> {
    const stored = this.steps.get(sid);
    if (stored?.status === 'completed') return stored.output as HttpResponse;
    if (stored?.status === 'failed') throw new StepFailed(sid, stored.error);
    if (stored?.status === 'waiting') return this.suspend();
    if (this.suspended) return this.suspend();
    const req = httpRequestSchema.parse(request);
    const opts = httpOptionsSchema.parse(options);
    const input = { request: req, options: opts };
    const wait: PendingWait = { step: { stepId: sid, kind: 'http', status: 'waiting', attempt: 0, input }, http: input };
    if (!tool || !this.deps.inline) return this.wait(wait);
    // The steps before a side effect are stored first (`flush`). A GET, HEAD or OPTIONS request is
    // no side effect (RFC 9110's safe methods): it leaves while they are being stored, and its
    // result is used only once they are. They are written no later than for any other method, so
    // a crash repeats a model call that returned no more often than before; it may repeat the request.
    const safe = SAFE_METHODS.has(req.method.toUpperCase());
    const flushed = this.flush();
    if (!safe) {
      await flushed;
      if (this.suspended) return this.suspend();
    }
    const startedAt = new Date();
    const sending = this.deps.inline.http(sid, req, opts);
    if (safe) await Promise.all([flushed, sending.catch(() => undefined)]);
    const r = await sending;
    if (!r) return this.wait(wait);
    const done = { stepId: sid, kind: 'http' as const, status: r.status, attempt: r.attempt, input, output: r.output, error: r.error, startedAt, finished: true };
    if (r.status === 'failed') {
      await this.flush(done);
      throw new StepFailed(sid, r.error);
    }
    // Stored with the next side effect's flush (the next model call draws its budgets meanwhile).
    this.defer(done, true);
    return r.output!;
  }
}

/** A step.approval's options, checked when the step first asks (a bad one fails the step's run). */
function approvalSpec(sid: string, o: ApprovalOptions): Omit<NewApproval, 'id' | 'runId' | 'stepId'> {
  if (!o || !Array.isArray(o.approvers) || o.approvers.length === 0 || !o.approvers.every((u) => typeof u === 'string' && u.length > 0)) {
    throw new Error(`step ${sid}: approval needs approvers, a non-empty list of user names`);
  }
  const approvers = [...new Set(o.approvers)];
  const required = o.required ?? 1;
  if (!Number.isInteger(required) || required < 1 || required > approvers.length) {
    throw new Error(`step ${sid}: required must be an integer from 1 to the number of approvers (${approvers.length})`);
  }
  const onTimeout = o.onTimeout ?? 'reject';
  if (!['reject', 'approve', 'fail', 'escalate'].includes(onTimeout)) throw new Error(`step ${sid}: onTimeout must be reject, approve, fail or escalate`);
  let escalation: NewApproval['escalation'] = null;
  if (onTimeout === 'escalate') {
    const e = o.escalation;
    if (o.timeoutMs === undefined) throw new Error(`step ${sid}: onTimeout escalate needs a timeoutMs`);
    if (!e || !Array.isArray(e.to) || e.to.length === 0 || !e.to.every((u) => typeof u === 'string' && u.length > 0)) {
      throw new Error(`step ${sid}: onTimeout escalate needs escalation.to, a non-empty list of user names`);
    }
    const then = e.onTimeout ?? 'reject';
    if (!['reject', 'approve', 'fail'].includes(then)) throw new Error(`step ${sid}: escalation.onTimeout must be reject, approve or fail`);
    const timeoutMs = durationMs(e.timeoutMs ?? o.timeoutMs);
    if (timeoutMs <= 0) throw new Error(`step ${sid}: the escalation's timeout must be positive`);
    escalation = { to: [...new Set(e.to)], timeoutMs, then };
  }
  if (o.form !== undefined) {
    try {
      checkForm(o.form);
    } catch (err) {
      throw new Error(`step ${sid}: the approval form is not a valid JSON Schema: ${(err as Error).message}`);
    }
  }
  const timeoutMs = o.timeoutMs === undefined ? null : durationMs(o.timeoutMs);
  return {
    approvers, required, onTimeout, escalation, message: o.message ?? null, form: o.form ?? null, requireReason: o.requireReason === true,
    timeoutAt: timeoutMs === null ? null : new Date(Date.now() + timeoutMs),
  };
}

/** Methods without side effects (RFC 9110, 9.2.1): an agent's HTTP tool may send them before the steps before it are stored. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function due(at: string | Date | null): number {
  return at === null ? 0 : new Date(at).getTime();
}

function childResult(sid: string, outcome: ChildOutcome, policy: string): unknown {
  if (policy === 'continue') return outcome;
  if (outcome.status === 'completed') return outcome.output;
  if (policy === 'ignore') return null;
  throw new ChildRunFailed(sid, outcome.runId, outcome.status, outcome.error);
}

async function attemptWithTimeout<T>(fn: (signal: AbortSignal) => Promise<T> | T, timeoutMs: number | undefined): Promise<T> {
  const abort = new AbortController();
  if (!timeoutMs) return fn(abort.signal);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(`step attempt timed out after ${timeoutMs} ms`);
      err.name = 'StepTimeout';
      abort.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => fn(abort.signal)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
