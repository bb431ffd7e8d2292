/**
 * Durable workflows (seed 004's orchestrator): workflows as code (defineWorkflow) and as
 * documents in the original's format, run on the queue by role `workflow-runner`, with HTTP
 * steps on role `http-worker`, human approvals on role `hitl-worker` and the model calls of AI
 * agents on role `agent-runner`. Group `orchestrator` selects all four.
 *
 * Per-process state (registry, compiled documents, batchers) is the domain's deps, built by its
 * `setup` once per runtime (`runtime.depsOf('workflows')` reaches it from outside a handler, and
 * `setupWorkflows(services, workflows)` builds one without a runtime); nothing lives in module
 * variables or in the domain object.
 */
import { defineDomain, defineQueue, type Domain, type Services } from '../runtime/domain.ts';
import { workflowsConfig, type WorkflowsConfig } from './config.ts';
import type { Workflow } from './define.ts';
import { APPROVAL_QUEUE, HTTP_QUEUE, setup, TICK_QUEUE, type WorkflowEngine } from './engine.ts';
import { RetryLater } from '../queue/errors.ts';
import { applyTimeout, approvalJob, deliver, type ApprovalLinkSender } from './approvals.ts';
import { httpJob, runHttpStep } from './http-worker.ts';
import { recoverStrandedRuns, runTick, tickJob } from './runner.ts';
import { pruneEvents } from './event-store.ts';
import { AGENT_QUEUE, agentJob } from './agent-types.ts';
import { onModelDead, runModelStep } from './agent-runner.ts';

export { defineWorkflow, durationMs, type ApprovalOptions, type ApprovalOutcome, type Workflow, type StepApi, type RunInfo, type WorkflowOptions, type StepRetry, type ChildOutcome } from './define.ts';
export { isSuspend, StepFailed, ChildRunFailed } from './errors.ts';
export { startRun, findRun, cancelRun, sendEvent, rerunFromFailure, type StartOptions } from './service.ts';
export { tickRun } from './runner.ts';
export { runTopic, workflowTopic } from './events.ts';
export { APPROVAL_QUEUE, HTTP_QUEUE, TICK_QUEUE, setup as setupWorkflows, type WorkflowEngine } from './engine.ts';
export { decide, approvalsTopic, type DecisionInput, type ApprovalLinkDelivery, type ApprovalLinkSender } from './approvals.ts';
export { approvalTopicGuard } from './identity.ts';
export type { WorkflowsConfig } from './config.ts';
export { signLink } from './approval-links.ts';
export type { ApprovalRow, DecisionRow } from './approval-store.ts';
export type { RunRow, StepRow, RunStatus } from './store.ts';

export const RUNNER_ROLE = 'workflow-runner';
export const HTTP_ROLE = 'http-worker';
export const HITL_ROLE = 'hitl-worker';
export const AGENT_ROLE = 'agent-runner';
export { AGENT_QUEUE, type AgentOptions, type AgentResult, type AgentTool } from './agent-types.ts';

/** The workflow engine of the runtime that owns `services` (notifications start their runs on it). */
export function workflowEngineOf(services: Services): WorkflowEngine {
  const engine = services.depsOf?.<WorkflowEngine>('workflows');
  if (!engine) throw new Error('the workflows domain is not set up in this process');
  return engine;
}

/** The workflows domain; its deps (runtime.depsOf('workflows')) are the WorkflowEngine. */
export type WorkflowsDomain = Domain;

/** The workflows domain running the given code workflows (documents need no declaration). */
export function workflowsDomain(options: {
  workflows?: readonly Workflow<any, any>[];
  /** How often `workflow-recovery` looks for runs no tick holds, and how idle they must be; default 30 s. */
  recoveryIntervalMs?: number;
  /** The channel that hands approvers their signed one-time links; none: no links are made. */
  sendLinks?: ApprovalLinkSender;
} = {}): WorkflowsDomain {
  const workflows = options.workflows ?? [];
  const recoveryMs = options.recoveryIntervalMs ?? 30_000;
  return defineDomain<WorkflowEngine, typeof workflowsConfig.shape>({
    name: 'workflows',
    group: 'orchestrator',
    roles: [RUNNER_ROLE, HTTP_ROLE, HITL_ROLE, AGENT_ROLE],
    config: workflowsConfig,
    owns: ['workflows', 'workflow_tags', 'runs', 'run_steps', 'run_patches', 'approvals', 'approval_decisions', 'workflow_events', 'workflow_run_counts', 'workflow_tag_moves'],
    setup: (services: Services) => setup(services, workflows, { ...(options.sendLinks && { sendLinks: options.sendLinks }) }),
    queues: (c) => [
      defineQueue({
        name: TICK_QUEUE,
        role: RUNNER_ROLE,
        schema: tickJob,
        handler: (payload, ctx) => runTick(ctx.deps, payload, ctx),
        concurrency: (c as WorkflowsConfig).WORKFLOW_RUNNER_CONCURRENCY,
        batchSize: 64,
        // A tick fails only on infrastructure errors (a step's own failure is the run's data);
        // contention and a missing version retry with RetryLater.
        retry: { maxAttempts: 20, baseDelayMs: 200, maxDelayMs: 30_000 },
      }),
      defineQueue({
        name: HTTP_QUEUE,
        role: HTTP_ROLE,
        schema: httpJob,
        handler: (payload, ctx) => runHttpStep(ctx.deps, payload, ctx),
        concurrency: (c as WorkflowsConfig).HTTP_WORKER_CONCURRENCY,
        // Attempts come with each job (the step's maxAttempts); the delay is the handler's RetryLater.
        retry: { maxAttempts: 3, baseDelayMs: 500 },
      }),
      defineQueue({
        name: APPROVAL_QUEUE,
        role: HITL_ROLE,
        schema: approvalJob,
        // Both jobs are safe on any number of replicas: a delivery publishes and hands out links
        // (again when retried), and a timeout applies under the approval's row lock only while
        // the approval is still pending.
        handler: async (payload, ctx) => {
          if (payload.kind === 'deliver') {
            await deliver(ctx.deps, payload.approvalId);
            return;
          }
          const result = await applyTimeout(ctx.deps, payload.approvalId);
          if (typeof result === 'number') throw new RetryLater(result, `approval ${payload.approvalId} is not due yet`);
        },
        concurrency: (c as WorkflowsConfig).HITL_WORKER_CONCURRENCY,
        retry: { maxAttempts: 10, baseDelayMs: 500, maxDelayMs: 30_000 },
      }),
      defineQueue({
        name: AGENT_QUEUE,
        role: AGENT_ROLE,
        schema: agentJob,
        handler: (payload, ctx) => runModelStep(ctx.deps, payload, ctx),
        concurrency: (c as WorkflowsConfig).AGENT_RUNNER_CONCURRENCY,
        // Transient provider faults are retried inside the call (outbound layer); a job attempt
        // is lost only to a permanent error or a crash. The last one fails the model step.
        retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 30_000 },
        timeoutMs: 300_000,
        onDead: (job, ctx) => onModelDead(ctx.deps, job, ctx),
      }),
    ],
    loops: [
      {
        name: 'workflow-recovery', role: RUNNER_ROLE, singleton: true, intervalMs: recoveryMs,
        run: async ({ deps, services }) => {
          await recoverStrandedRuns(deps, recoveryMs);
          await pruneEvents(services.sql, (services.config as WorkflowsConfig).WORKFLOW_EVENT_RETENTION_MS);
        },
      },
    ],
    routes: async (app, _services, deps) => {
      const { workflowRoutes } = await import('./api.ts');
      const { v1Routes } = await import('./api-v1.ts');
      await app.register(async (scope) => workflowRoutes(scope, deps));
      await app.register(async (scope) => v1Routes(scope, deps));
      const { approvalRoutes } = await import('./approval-api.ts');
      await app.register(async (scope) => approvalRoutes(scope, deps));
    },
  });
}
