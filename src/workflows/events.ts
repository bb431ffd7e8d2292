import type { Services } from '../runtime/domain.ts';
import type { ModelReply } from './agent-types.ts';

/**
 * Run and step events on the runtime's event hub, published after the change committed: in this
 * process at once, to `/ws` subscribers of every process through the hub's transport.
 * `run.*` go to `run:<id>` and `workflow:<name>`; `step.*` to `run:<id>` only, so a runs list
 * watching a workflow is not flooded by every step of every run.
 */
export const runTopic = (id: string) => `run:${id}`;
export const workflowTopic = (name: string) => `workflow:${name}`;

export type RunEventType = 'run.queued' | 'run.started' | 'run.waiting' | 'run.completed' | 'run.failed' | 'run.cancelled' | 'run.timed_out';
export type StepEventType = 'step.completed' | 'step.failed' | 'step.waiting' | 'step.retrying';

export function publishRun(services: Services, type: RunEventType, run: { id: string; workflow: string }, data: Record<string, unknown> = {}): void {
  const at = Date.now();
  const payload = { runId: run.id, workflow: run.workflow, ...data };
  services.events.emit({ type, topic: runTopic(run.id), data: payload, at });
  services.events.emit({ type, topic: workflowTopic(run.workflow), data: payload, at });
}

/**
 * A stored step's event: `step.completed` or `step.failed`, and for a model call's reply also
 * `agent.message` (the whole reply, which its `agent.token` events streamed piece by piece).
 */
export function publishStored(services: Services, runId: string, step: { stepId: string; kind: string; attempt: number; status: string; output?: unknown; error?: { message: string } | null }): void {
  publishStep(services, step.status === 'failed' ? 'step.failed' : 'step.completed', runId, step, step.error?.message);
  if (step.kind === 'model' && step.status === 'completed') publishReply(services, runId, step.stepId, step.output as ModelReply);
}

/** A model call's whole reply, once it is stored. */
export function publishReply(services: Services, runId: string, stepId: string, reply: ModelReply): void {
  services.events.emit({
    type: 'agent.message', topic: runTopic(runId), at: Date.now(),
    data: { runId, stepId, text: reply.text, toolCalls: reply.toolCalls, usage: reply.usage, durationMs: reply.durationMs },
  });
}

export function publishStep(services: Services, type: StepEventType, runId: string, step: { stepId: string; kind: string; attempt: number }, error?: string): void {
  services.events.emit({
    type, topic: runTopic(runId), at: Date.now(),
    data: { runId, stepId: step.stepId, kind: step.kind, attempt: step.attempt, ...(error !== undefined && { error }) },
  });
}
