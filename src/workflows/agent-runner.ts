/**
 * Role `agent-runner`: executes the model calls of agent steps (`workflow.agent` jobs). The answer
 * streams to `/ws` topic `run:<id>` as `agent.token` events while it arrives (published, never
 * stored token by token); the whole reply (text, tool calls, usage) completes the waiting model
 * step and ticks the run in one transaction, so once it is stored no crash repeats the call.
 * Calls draw from the LLM layer's shared requests/min and tokens/min buckets (the same keys as
 * extraction, so all processes and both domains share one provider budget).
 */
import type { DeadContext, JobContext } from '../runtime/domain.ts';
import type { Job } from '../queue/types.ts';
import { Outbound, toJobControl } from '../runtime/outbound.ts';
import { completeAndTick, type WorkflowEngine } from './engine.ts';
import { runTopic } from './events.ts';
import { createAgentModel, estimate, type AgentModel } from './agent-models.ts';
import type { AgentJob, ModelReply } from './agent-types.ts';
import type { ExtractionConfig } from '../extraction/config.ts';
import type { Queryable } from '../storage/index.ts';
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

export async function runModelStep(engine: WorkflowEngine, job: AgentJob, ctx: JobContext<AgentJob>): Promise<void> {
  const { sql, events, rateLimiter } = engine.services;
  // A cancelled run, or a call an earlier attempt already stored, needs no model.
  if ((await store.stepStatus(sql, job.runId, job.stepId)) !== 'waiting') return;
  const config = engine.services.config as Partial<ExtractionConfig>;
  const request = job.request as AgentJob['request'] & { messages: never[] };
  const model = await modelFor(engine, job.request.model);
  const topic = runTopic(job.runId);
  const onToken = (text: string) => events.emit({ type: 'agent.token', topic, at: Date.now(), data: { runId: job.runId, stepId: job.stepId, text } });
  const started = performance.now();
  let reply: Omit<ModelReply, 'durationMs'>;
  if (model.provider === 'builtin') {
    reply = await model.call(request, onToken, ctx.signal);
  } else {
    const rpm = config.LLM_REQUESTS_PER_MINUTE ?? 500;
    const tpm = config.LLM_TOKENS_PER_MINUTE ?? 200_000;
    const outbound = new Outbound({
      provider: model.provider, rateLimiter, timeoutMs: config.LLM_TIMEOUT_MS ?? 60_000, maxRetries: config.LLM_MAX_RETRIES ?? 3,
      backoff: { baseDelayMs: 500, maxDelayMs: 20_000 },
    });
    const prefix = `llm:${model.provider}:${model.model}`;
    const cost = Math.min(tpm, estimate(request.system) + job.request.messages.reduce((n: number, m: { content?: string }) => n + estimate(m.content ?? ''), 0) + request.maxOutputTokens);
    try {
      reply = await outbound.call((signal) => model.call(request, onToken, signal), {
        signal: ctx.signal,
        budgets: [
          { key: `${prefix}:requests`, limit: { capacity: rpm, perSecond: rpm / 60 } },
          { key: `${prefix}:tokens`, limit: { capacity: tpm, perSecond: tpm / 60 }, cost },
        ],
      });
    } catch (err) {
      throw toJobControl(err);
    }
  }
  const output: ModelReply = { ...reply, durationMs: Math.round(performance.now() - started) };
  await settle(engine, job.runId, job.stepId, 'completed', output, null);
  events.emit({
    type: 'agent.message', topic, at: Date.now(),
    data: { runId: job.runId, stepId: job.stepId, text: output.text, toolCalls: output.toolCalls, usage: output.usage, durationMs: output.durationMs },
  });
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
