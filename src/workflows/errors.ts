import type { StoredError } from './store.ts';

/**
 * Thrown by a step that has to wait: the tick ends here and the run resumes in a later tick.
 * A workflow that catches errors around steps must rethrow it (see `isSuspend`).
 */
export class Suspend extends Error {
  override name = 'Suspend';
  constructor() {
    super('the run waits here; rethrow this error if you catch it');
  }
}

export function isSuspend(err: unknown): boolean {
  return err instanceof Suspend;
}

/** A step failed for good (its attempts used up); the workflow may catch it and go on. */
export class StepFailed extends Error {
  override name = 'StepFailed';
  constructor(
    readonly stepId: string,
    readonly stepError: StoredError | null,
  ) {
    super(`step ${stepId} failed: ${stepError?.message ?? 'unknown error'}`);
  }
}

/** A child run invoked with onChildFailure `fail` did not complete. */
export class ChildRunFailed extends Error {
  override name = 'ChildRunFailed';
  constructor(
    readonly stepId: string,
    readonly childRunId: string,
    readonly childStatus: string,
    readonly childError: StoredError | null,
  ) {
    super(`child run ${childRunId} (step ${stepId}) ended ${childStatus}${childError ? `: ${childError.message}` : ''}`);
  }
}

/** The tick no longer holds its run (lease lost, or the run was cancelled): it stops quietly. */
export class TickLost extends Error {
  override name = 'TickLost';
}

/** Any thrown value as the JSON stored on a step or run. */
export function toStoredError(err: unknown): StoredError {
  if (err instanceof StepFailed && err.stepError) return { ...err.stepError, name: err.stepError.name, message: err.message, stepId: err.stepId };
  if (err instanceof Error) {
    const stored: StoredError = { name: err.name, message: err.message };
    if (err.stack) stored.stack = err.stack.split('\n').slice(0, 8).join('\n');
    for (const key of ['status', 'code', 'stepId', 'childRunId'] as const) {
      const v = (err as unknown as Record<string, unknown>)[key];
      if (typeof v === 'string' || typeof v === 'number') stored[key] = v;
    }
    return stored;
  }
  return { name: 'NonError', message: typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err)) };
}
