/**
 * Role `agent-runner`: executes the model calls of agent steps (`workflow.agent` jobs). A job runs
 * an inline tick of its run (runner.ts `tickRun` under the job's lease): the waiting model call,
 * the HTTP tools the reply asks for and the next model calls run here, one after the other, each
 * stored before the side effect that depends on it (context.ts says which go while it is being
 * written), so a turn costs no hand-off between roles and a crash never repeats a call that
 * returned. Anything else (a code or workflow tool, an approval, the steps
 * after the agent) goes back to role workflow-runner as a wait or a tick. The answer streams to
 * `/ws` topic `run:<id>` as `agent.token` events while it arrives (published, never stored token
 * by token). Calls draw from the LLM layer's shared requests/min and tokens/min buckets (the same
 * keys as extraction, so all processes and both domains share one provider budget).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeadContext, JobContext } from '../runtime/domain.ts';
import type { Job } from '../queue/types.ts';
import { Outbound, toJobControl } from '../runtime/outbound.ts';
import { completeAndTick, type WorkflowEngine } from './engine.ts';
import { publishReply, runTopic } from './events.ts';
import { createAgentModel, estimate, type AgentModel } from './agent-models.ts';
import type { AgentJob, ModelReply, ModelRequest } from './agent-types.ts';
import type { ExtractionConfig } from '../extraction/config.ts';
import type { Queryable } from '../storage/index.ts';
import type { InlineHttpOutcome, InlineSteps } from './context.ts';
import type { HttpRequest, HttpStepOptions } from './http-types.ts';
import { attemptHttp } from './http-worker.ts';
import { tickRun } from './runner.ts';
import * as store from './store.ts';

const models = new WeakMap<WorkflowEngine, Map<string, Promise<AgentModel>>>();

/** The model a name stands for, made once per runtime (SDK clients keep their connections). */
function modelFor(engine: WorkflowEngine, name: string | null): Promise<AgentModel> {
  let byName = models.get(engine);
  if (!byName) models.set(engine, (byName = new Map()));
  const key = name ?? '';
  let m = byName.get(key);
  if (!m) {
    m = createAgentModel(name, engine.services.config as Partial<ExtractionConfig>);
    m.catch(() => byName.delete(key));
    byName.set(key, m);
  }
  return m;
}

/**
 * An agent job: an inline tick of its run. The waiting call starts at once, while the tick takes
 * the run and replays it up to that call. When the tick cannot take the run (another tick holds
 * it), does not reach the call, or this process does not declare the run's workflow, the reply
 * alone completes the step and ticks the run, in one statement.
 */
export async function runModelStep(engine: WorkflowEngine, job: AgentJob, ctx: JobContext<AgentJob>): Promise<void> {
  const { sql } = engine.services;
  // Counted from the job's start, whatever the budget draw and the request take below.
  const until = Date.now() + INLINE_MODEL_CALLS_MS;
  // The call draws its budgets while its step is looked up, and is sent only if the step waits.
  // A cancelled run needs no model. A completed step: an earlier attempt (even a first one a
  // shutdown handed back) stored the reply and stopped in its inline tick, which this one takes
  // over (the run's lease is still this job's).
  const look = store.stepStatus(sql, job.runId, job.stepId);
  const waits = look.then((s) => {
    if (s !== 'waiting') throw new Error(`step ${job.stepId} is ${s ?? 'gone'}`);
  });
  waits.catch(() => {}); // read by the call only when it gets that far (not after a failed budget draw)
  let sent!: () => void;
  const sending = new Promise<void>((resolve) => (sent = resolve));
  const attempt = callModel(engine, job.runId, job.stepId, job.request as ModelRequest, ctx.signal, () => waits, sent);
  attempt.catch(() => {}); // awaited below, or by the tick, when the step waits
  const status = await look;
  if (status !== 'waiting' && status !== 'completed') return;
  const call = status === 'waiting' ? attempt : undefined;
  // The tick's replay, which has the model's whole answer time to run in, starts once the request
  // is on its way: on this process's one thread it would otherwise go first and hold the request.
  if (call) await Promise.race([sending.then(() => new Promise((resolve) => setImmediate(resolve))), call.catch(() => {})]);
  const outcome = await tickRun(engine, job.runId, ctx, inlineSteps(engine, job, call, ctx.signal, until));
  if (outcome.ownError !== undefined) throw outcome.ownError;
  if (!call || (await store.stepStatus(sql, job.runId, job.stepId)) !== 'waiting') return;
  const reply = await call;
  await settle(engine, job.runId, job.stepId, 'completed', reply, null);
  publishReply(engine.services, job.runId, job.stepId, reply);
}

/**
 * A new model call starts inline only this long into its job (whose timeout is 300 s): a later
 * one goes to a job of its own, so a call keeps the 240 s its timeouts and retries may take
 * (LLM_TIMEOUT_MS 60 s, four tries) and a long agent never runs into the job's timeout.
 */
const INLINE_MODEL_CALLS_MS = 60_000;
/** The longest an HTTP tool waits in-process between attempts; a longer Retry-After is cut to it. */
const INLINE_RETRY_CAP_MS = 10_000;

function inlineSteps(engine: WorkflowEngine, job: AgentJob, ownCall: Promise<ModelReply> | undefined, signal: AbortSignal, until: number): InlineSteps {
  return {
    ownStep: job.stepId,
    until,
    model: (stepId, request, ready) => (stepId === job.stepId && ownCall ? ownCall : callModel(engine, job.runId, stepId, request, signal, ready)),
    http: (stepId, request, options) => httpTool(engine, job.runId, stepId, request, options, signal),
  };
}

/**
 * An agent's HTTP tool run here with role http-worker's attempt (same SSRF guard, allowed hosts,
 * timeout, size cap and Idempotency-Key), its retries waited out in-process. Aborted (a shutdown),
 * it returns undefined and the step goes to role http-worker.
 */
async function httpTool(
  engine: WorkflowEngine, runId: string, stepId: string, request: HttpRequest, options: HttpStepOptions, signal: AbortSignal,
): Promise<InlineHttpOutcome | undefined> {
  const job = { runId, stepId, request: { method: 'GET', ...request }, options };
  const maxAttempts = options.maxAttempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    const outcome = await attemptHttp(engine, job, attempt, maxAttempts, signal);
    if (!('retryInMs' in outcome)) return outcome.status === 'failed' && signal.aborted ? undefined : { ...outcome, attempt };
    if (signal.aborted) return undefined;
    try {
      await sleep(Math.min(outcome.retryInMs, INLINE_RETRY_CAP_MS), undefined, { signal });
    } catch {
      return undefined;
    }
  }
}

/**
 * One model call, its tokens streamed to the run's topic; provider faults as the queue's control
 * flow. Its budgets are drawn at once, then `ready` is called and the request sent once it
 * resolves (never if it rejects); `onSend` is called as it is handed to the provider's client.
 */
async function callModel(
  engine: WorkflowEngine, runId: string, stepId: string, request: ModelRequest, signal: AbortSignal, ready: () => Promise<void>,
  onSend?: () => void,
): Promise<ModelReply> {
  const { events, rateLimiter } = engine.services;
  const config = engine.services.config as Partial<ExtractionConfig>;
  const model = await modelFor(engine, request.model);
  const topic = runTopic(runId);
  const onToken = (text: string) => events.emit({ type: 'agent.token', topic, at: Date.now(), data: { runId, stepId, text } });
  const started = performance.now();
  let reply: Omit<ModelReply, 'durationMs'>;
  if (model.provider === 'builtin') {
    await ready();
    const answer = model.call(request as never, onToken, signal);
    onSend?.();
    reply = await answer;
  } else {
    const rpm = config.LLM_REQUESTS_PER_MINUTE ?? 500;
    const tpm = config.LLM_TOKENS_PER_MINUTE ?? 200_000;
    const outbound = new Outbound({
      provider: model.provider, rateLimiter, timeoutMs: config.LLM_TIMEOUT_MS ?? 60_000, maxRetries: config.LLM_MAX_RETRIES ?? 3,
      backoff: { baseDelayMs: 500, maxDelayMs: 20_000 },
    });
    const prefix = `llm:${model.provider}:${model.model}`;
    const cost = Math.min(tpm, estimate(request.system) + request.messages.reduce((n: number, m: { content?: string }) => n + estimate(m.content ?? ''), 0) + request.maxOutputTokens);
    try {
      reply = await outbound.call(async (s) => {
        await ready();
        const answer = model.call(request as never, onToken, s);
        onSend?.();
        return answer;
      }, {
        signal,
        budgets: [
          { key: `${prefix}:requests`, limit: { capacity: rpm, perSecond: rpm / 60 } },
          { key: `${prefix}:tokens`, limit: { capacity: tpm, perSecond: tpm / 60 }, cost },
        ],
      });
    } catch (err) {
      throw toJobControl(err);
    }
  }
  return { ...reply, durationMs: Math.round(performance.now() - started) };
}

async function settle(engine: WorkflowEngine, runId: string, stepId: string, status: 'completed' | 'failed', output: unknown, error: store.StoredError | null, db?: Queryable): Promise<void> {
  // The step's outcome and its run's tick in one statement (in the dead-letter transaction when given).
  await completeAndTick(engine, db ?? engine.services.sql, runId, stepId, status, output, error, 1);
}

/** A model call that failed for good fails its step (the agent's StepFailed), in the dead-letter transaction. */
export async function onModelDead(engine: WorkflowEngine, job: Job<unknown>, ctx: DeadContext<WorkflowEngine>): Promise<void> {
  const p = job.payload as AgentJob;
  await settle(engine, p.runId, p.stepId, 'failed', null, { name: 'ModelCallFailed', message: `model call ${p.stepId} failed: ${ctx.error.message}` }, ctx.tx);
}
