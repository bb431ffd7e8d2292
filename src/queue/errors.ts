/**
 * Job control flow. A handler throws these to say what should happen to its job; anything else
 * it throws is an ordinary failure, retried by the queue's policy (unless the queue declares the
 * error non-retryable, see QueueDefinition.nonRetryable).
 */

/** Retry after a given delay (a provider's Retry-After, say); counts as an attempt. */
export class RetryLater extends Error {
  override name = 'RetryLater';
  constructor(
    readonly retryAfterMs: number,
    message = `retry in ${retryAfterMs} ms`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Hand the job back to run again after `delayMs` without spending an attempt: the job could not
 * start its work yet (a dependency is not ready, a rolling deploy, a shared budget is spent).
 */
export class Defer extends Error {
  override name = 'Defer';
  constructor(
    readonly delayMs: number,
    message = `deferred for ${delayMs} ms`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Park the job until `key` is signalled (QueueClient.signal) or `timeoutMs` passes (null: no
 * timeout), without spending the attempt. A parked job holds no lease and no worker slot; its
 * next run sees what woke it in `job.wake`.
 */
export class Park extends Error {
  override name = 'Park';
  constructor(
    readonly key: string,
    readonly timeoutMs: number | null = null,
  ) {
    super(`parked until ${key}${timeoutMs === null ? '' : ` or ${timeoutMs} ms`}`);
  }
}

/** Fail now with no further attempts: the job goes straight to the dead letters. */
export class PermanentFailure extends Error {
  override name = 'PermanentFailure';
}

/** The job was cancelled (by `QueueClient.cancel`); the handler's signal carries this reason. */
export class JobCancelled extends Error {
  override name = 'JobCancelled';
  constructor(readonly jobId: number) {
    super(`job ${jobId} was cancelled`);
  }
}

/** The payload failed its queue's schema: no attempt can succeed, so a retry is useless. */
export class InvalidPayload extends PermanentFailure {
  override name = 'InvalidPayload';
}

/** An ack, retry or extend presented a lease token that no longer holds the job. */
export class LeaseLost extends Error {
  override name = 'LeaseLost';
  constructor(readonly jobId: number) {
    super(`lease on job ${jobId} is no longer held`);
  }
}
