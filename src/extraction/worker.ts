import { z } from 'zod';
import type { Config } from '../config.ts';
import { RetryLater } from '../queue/errors.ts';
import type { JobContext, Services } from '../runtime/domain.ts';
import type { Extractor } from './extractor.ts';
import { LlmApiError } from './llm.ts';
import { createExtractor } from './providers/index.ts';
import type { ExtractionRecord } from './schema.ts';
import { getMessage, saveOutcome, type MessageForExtraction, type StoredOutcome } from './store.ts';
import { prepareBody } from './text.ts';

/** Queue of the `extraction` role: one job per message, dedup key = the message id. */
export const EXTRACTION_QUEUE = 'message_extraction_jobs';

export const extractionJob = z.object({
  messageId: z.uuid(),
  /** The schema version it was queued for; a worker of an older version leaves it to a newer one. */
  schemaVersion: z.number().int().optional(),
});
export type ExtractionJob = z.infer<typeof extractionJob>;

// One extractor per process (the SDK client and its connection pool are reused by every job).
const extractors = new WeakMap<Services, Promise<Extractor>>();

export function extractorFor(services: Services): Promise<Extractor> {
  let extractor = extractors.get(services);
  if (!extractor) {
    extractor = createExtractor(services.config, services.rateLimiter);
    extractors.set(services, extractor);
  }
  return extractor;
}

/** Runs one extraction of a message; never writes. Provider errors are thrown (LlmApiError). */
export async function extractMessage(
  message: MessageForExtraction,
  extractor: Extractor,
  config: Pick<Config, 'EXTRACTION_MAX_INPUT_TOKENS'>,
  schemaVersion: number,
  signal?: AbortSignal,
): Promise<StoredOutcome> {
  const started = performance.now();
  const body = prepareBody(message.body ?? message.snippet, config.EXTRACTION_MAX_INPUT_TOKENS);
  const outcome = await extractor.extract(
    { subject: message.subject ?? '', from: message.from, to: message.to, cc: message.cc, date: message.date, ...body },
    signal,
  );
  const durationMs = Math.round(performance.now() - started);
  const made = { provider: extractor.provider, model: extractor.model, promptVersion: extractor.promptVersion };
  if (!outcome.ok) {
    return { status: 'failed', error: outcome.error, rawOutput: outcome.rawOutput, ...made, ...outcome.usage, calls: outcome.calls, durationMs };
  }
  const result: ExtractionRecord = {
    ...outcome.output,
    meta: { schemaVersion, ...made, usage: outcome.usage, ...(outcome.notes?.length && { notes: outcome.notes }) },
  };
  return { status: 'succeeded', result, calls: outcome.calls, durationMs };
}

/**
 * The `extraction` handler: extract, store (one row per message and schema version, replaced on
 * a re-run). Output that stays invalid after the repair is stored as `failed` and the job ends;
 * provider errors are retried by the queue, and the last attempt's error is stored as `failed`.
 */
export function extractionHandler(schemaVersion: number) {
  return async (payload: ExtractionJob, ctx: JobContext<ExtractionJob>): Promise<void> => {
    const { sql, config } = ctx.services;
    // During a rolling deploy an old worker may claim a job queued for the new schema.
    if (payload.schemaVersion !== undefined && payload.schemaVersion > schemaVersion) {
      throw new RetryLater(30_000, `queued for schema version ${payload.schemaVersion}; this worker has ${schemaVersion}`);
    }
    const message = await getMessage(sql, payload.messageId);
    // Gone altogether: its extraction rows went with it (on delete cascade).
    if (!message) return;
    if (message.deleted) {
      await saveOutcome(sql, message.id, schemaVersion, { status: 'skipped', error: 'message deleted before extraction' });
      return;
    }
    const extractor = await extractorFor(ctx.services);
    let outcome: StoredOutcome;
    try {
      outcome = await extractMessage(message, extractor, config, schemaVersion, ctx.signal);
    } catch (err) {
      // A bad key (401/403) is the operator's to fix: keep retrying rather than fail every message.
      const permanent = err instanceof LlmApiError && !err.retryable && err.status !== 401 && err.status !== 403;
      if (permanent || ctx.job.attempt >= ctx.job.maxAttempts) {
        const error = err instanceof Error ? err.message : String(err);
        await saveOutcome(sql, message.id, schemaVersion, {
          status: 'failed', error, rawOutput: null, provider: extractor.provider, model: extractor.model,
          promptVersion: extractor.promptVersion, inputTokens: 0, outputTokens: 0, calls: 1, durationMs: 0,
        });
        // A request the provider refuses (400, 413, ...) fails the same way every time: stop here.
        if (permanent) return;
      }
      // Rate limited past the in-call retries: come back when the provider said to.
      if (err instanceof LlmApiError && err.status === 429) throw new RetryLater(err.retryAfterMs ?? 30_000, err.message, { cause: err });
      throw err;
    }
    await saveOutcome(sql, message.id, schemaVersion, outcome);
    if (outcome.status === 'failed') ctx.log.warn('extraction output invalid after repair', { messageId: message.id, error: outcome.error });
  };
}
