/**
 * Glossary
 * - workflow: a named, versioned function of its input, written as code (defineWorkflow) or as a
 *   document ({nodes, edges, metadata}); a run is pinned to the version it started with.
 * - run: one execution of a workflow version; its status, input, output and error are a row.
 * - step: a call to `step.*` with a stable id. Its outcome is stored once; a re-execution of the
 *   run returns the stored outcome instead of doing the step again (memoization).
 * - tick: one execution of the run's function, from the start, by a `workflow.tick` job. Stored
 *   steps return at once; the tick ends at the first step that has to wait (Suspend).
 * - wait: a sleep, an event, a child run, an http-worker job or a human approval. A waiting run
 *   holds no job.
 */
import { createHash } from 'node:crypto';
import type { ZodType } from 'zod';
import type { HttpRequest, HttpResponse, HttpStepOptions } from './http-types.ts';
import type { AgentOptions, AgentResult } from './agent-types.ts';

export type { HttpRequest, HttpResponse, HttpStepOptions } from './http-types.ts';

/** How a failing step.run is tried again: attempts in all, and the delay before each retry. */
export interface StepRetry {
  maxAttempts: number;
  /** Delay before the first retry. */
  backoffMs: number;
  /** Each further retry waits this many times longer (the original's backoff_multiplier). */
  multiplier: number;
  maxDelayMs: number;
}

export const DEFAULT_STEP_RETRY: StepRetry = { maxAttempts: 3, backoffMs: 1000, multiplier: 2, maxDelayMs: 300_000 };

/** What a step waits for with `waitForEvent`; `match` must be contained in the event's data. */
export interface WaitForEvent {
  event: string;
  match?: Record<string, unknown>;
  /** A duration; when it passes first, the step returns null. */
  timeout?: Duration;
}

/** Milliseconds, or a string such as `500ms`, `30s`, `5m`, `2h`, `1d`. */
export type Duration = number | string;

export type ChildFailurePolicy = 'fail' | 'continue' | 'ignore';

/** What `invoke` with onChildFailure `continue` returns. */
export interface ChildOutcome<O = unknown> {
  runId: string;
  status: 'completed' | 'failed' | 'cancelled' | 'timed_out';
  output: O | null;
  error: { name: string; message: string } | null;
}

export interface InvokeOptions {
  /** fail (default): the step throws ChildRunFailed; continue: returns the ChildOutcome; ignore: returns null. */
  onChildFailure?: ChildFailurePolicy;
}

export interface StepRunOptions {
  retry?: Partial<StepRetry>;
  /** Abort the attempt after this many ms (its AbortSignal fires, the attempt fails). */
  timeoutMs?: number;
}

/** What `step.approval` waits for: N of the listed approvers approving (see docs/API.md). */
export interface ApprovalOptions {
  /** User names who may decide. */
  approvers: string[];
  /** How many approvals resolve it (N of M); default 1. It is rejected once N is out of reach. */
  required?: number;
  /** Shown to approvers (the original's hitl `message`). */
  message?: string;
  /** A JSON Schema the data of an approving decision must satisfy; that data is the step's output `data`. */
  form?: Record<string, unknown>;
  /** Undecided this long after the request, the onTimeout policy applies. */
  timeoutMs?: Duration;
  /**
   * reject (default) and approve resolve the step so; fail makes the step throw ApprovalTimedOut;
   * escalate adds `escalation.to` as approvers, delivers to them and waits `escalation.timeoutMs`
   * more, after which `escalation.onTimeout` (default reject) applies.
   */
  onTimeout?: 'reject' | 'approve' | 'fail' | 'escalate';
  escalation?: { to: string[]; timeoutMs?: Duration; onTimeout?: 'reject' | 'approve' | 'fail' };
  /** A reason is then required on approvals too (rejections always need one). */
  requireReason?: boolean;
}

/** What `step.approval` returns once the approval is resolved. */
export interface ApprovalOutcome<D = unknown> {
  approvalId: string;
  approved: boolean;
  status: 'approved' | 'rejected' | 'timed_out';
  /** The form data of the approving decisions, merged in decision order (null without any). */
  data: D | null;
  decisions: { by: string; decision: 'approve' | 'reject'; reason: string | null; at: string }[];
}

/** The step API a workflow function receives. Every id must be stable across executions. */
export interface StepApi {
  /** Runs `fn` inline in the runner; retried by the retry policy; its result is stored as JSON. */
  run<T>(id: string, fn: (signal: AbortSignal) => Promise<T> | T, options?: StepRunOptions): Promise<T>;
  sleep(id: string, duration: Duration): Promise<void>;
  sleepUntil(id: string, at: Date | string | number): Promise<void>;
  /** The matching event's data, or null when the timeout passed first. */
  waitForEvent<T = unknown>(id: string, wait: WaitForEvent): Promise<T | null>;
  /** Starts a child run and returns its output (see InvokeOptions for failures). */
  invoke<I, O>(id: string, workflow: Workflow<I, O> | string, input: I, options?: InvokeOptions): Promise<O>;
  /**
   * Fan-out / fan-in: `fn` per item, at most `concurrency` at once, each item memoized on its own
   * (`<id>[<index>]`). With a workflow (or its name) instead of a function, each item is a child run.
   */
  map<I, O>(id: string, items: readonly I[], fn: ((item: I, index: number) => Promise<O> | O) | Workflow<I, O> | string, options?: { concurrency?: number }): Promise<O[]>;
  /** An HTTP request executed by the `http-worker` role. */
  http(id: string, request: HttpRequest, options?: HttpStepOptions): Promise<HttpResponse>;
  /** Waits, holding no job, until people decide (role `hitl-worker` delivers and times it out). */
  approval<D = unknown>(id: string, options: ApprovalOptions): Promise<ApprovalOutcome<D>>;
  /** A tool-using LLM loop: model calls on role `agent-runner`, tools as steps (see AgentOptions). */
  agent<O = unknown>(id: string, options: AgentOptions): Promise<AgentResult<O>>;
}

/** The run a workflow function is executing. */
export interface RunInfo {
  id: string;
  workflow: string;
  version: number;
  parentRunId: string | null;
  /** This tick's attempt at the run (1 on the first execution of a tick job). */
  attempt: number;
}

export type WorkflowFunction<I, O> = (ctx: { input: I; step: StepApi; run: RunInfo }) => Promise<O>;

export interface WorkflowOptions<I> {
  name: string;
  /** Bump when the function changes in a way old runs must not see; default 1. */
  version?: number;
  input?: ZodType<I>;
  /** Default retry of the workflow's step.run calls. */
  retry?: Partial<StepRetry>;
  /** A run not finished this long after it was started ends as timed_out. */
  timeout?: Duration;
  /** At most `limit` runs with the same key (from the input) are running or waiting at once. */
  concurrency?: { key: (input: I) => string; limit: number };
}

/** A workflow declared in code. */
export interface Workflow<I = unknown, O = unknown> {
  readonly kind: 'code';
  readonly name: string;
  readonly version: number;
  readonly options: WorkflowOptions<I>;
  readonly fn: WorkflowFunction<I, O>;
}

const NAME = /^[a-zA-Z0-9_.:/-]{1,200}$/;

/** Declares a durable workflow: `defineWorkflow({ name, version, input }, async ({ input, step }) => …)`. */
export function defineWorkflow<I = unknown, O = unknown>(options: WorkflowOptions<I>, fn: WorkflowFunction<I, O>): Workflow<I, O> {
  if (!NAME.test(options.name)) throw new Error(`workflow name ${JSON.stringify(options.name)} must match ${NAME}`);
  const version = options.version ?? 1;
  if (!Number.isInteger(version) || version < 1) throw new Error(`workflow ${options.name}: version must be a positive integer`);
  if (options.concurrency && !(options.concurrency.limit >= 1)) throw new Error(`workflow ${options.name}: concurrency.limit must be at least 1`);
  return { kind: 'code', name: options.name, version, options, fn };
}

/** The stored, JSON form of a code workflow's options (the `workflows.definition` column). */
export function codeDefinition(w: Workflow<any, any>): Record<string, unknown> {
  const o = w.options;
  return {
    retry: o.retry ?? null,
    timeoutMs: o.timeout === undefined ? null : durationMs(o.timeout),
    concurrency: o.concurrency ? { limit: o.concurrency.limit } : null,
  };
}

/** The content address of a definition: the original's `sha256:<hex>` cas id. */
export function hashDefinition(definition: unknown): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(definition)).digest('hex')}`;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A Duration in milliseconds. */
export function durationMs(d: Duration): number {
  if (typeof d === 'number') {
    if (!Number.isFinite(d) || d < 0) throw new Error(`invalid duration ${d}`);
    return d;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(d);
  if (!m) throw new Error(`invalid duration ${JSON.stringify(d)}: use a number of ms or e.g. "30s", "5m", "2h", "1d"`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

/** Delay before the retry following failed attempt `attempt` (1 = after the first failure). */
export function stepRetryDelayMs(policy: StepRetry, attempt: number): number {
  return Math.min(policy.maxDelayMs, Math.round(policy.backoffMs * policy.multiplier ** Math.max(0, attempt - 1)));
}

/** The code workflows one process knows, by name and version. */
export class WorkflowRegistry {
  private readonly byName = new Map<string, Map<number, Workflow<any, any>>>();

  constructor(workflows: readonly Workflow<any, any>[] = []) {
    for (const w of workflows) this.add(w);
  }

  add(w: Workflow<any, any>): void {
    const versions = this.byName.get(w.name) ?? new Map<number, Workflow<any, any>>();
    const existing = versions.get(w.version);
    if (existing && existing !== w) throw new Error(`workflow ${w.name} version ${w.version} is declared twice`);
    versions.set(w.version, w);
    this.byName.set(w.name, versions);
  }

  get(name: string, version: number): Workflow<any, any> | undefined {
    return this.byName.get(name)?.get(version);
  }

  /** The highest version declared here: what new runs of `name` start on. */
  latest(name: string): Workflow<any, any> | undefined {
    const versions = this.byName.get(name);
    if (!versions) return undefined;
    return versions.get(Math.max(...versions.keys()));
  }

  all(): Workflow<any, any>[] {
    return [...this.byName.values()].flatMap((v) => [...v.values()]);
  }
}
