/**
 * Job control flow. A handler throws these to say what should happen to its job; anything else
 * it throws is an ordinary failure, retried by the queue's policy.
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

/** Fail now with no further attempts: the job goes straight to the dead letters. */
export class PermanentFailure extends Error {
  override name = 'PermanentFailure';
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
