import type { Services } from '../runtime/domain.ts';

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

export function publishStep(services: Services, type: StepEventType, runId: string, step: { stepId: string; kind: string; attempt: number }, error?: string): void {
  services.events.emit({
    type, topic: runTopic(runId), at: Date.now(),
    data: { runId, stepId: step.stepId, kind: step.kind, attempt: step.attempt, ...(error !== undefined && { error }) },
  });
}
