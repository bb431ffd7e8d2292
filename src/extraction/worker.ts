import { z } from 'zod';
import { Defer, PermanentFailure } from '../queue/errors.ts';
import type { Job } from '../queue/types.ts';
import type { DeadContext, JobContext, Services } from '../runtime/domain.ts';
import type { ExtractionConfig } from './config.ts';
import { ProviderError, toJobControl } from '../runtime/outbound.ts';
import type { Extractor } from './extractor.ts';
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

/** What the extraction domain keeps per process: one extractor (its SDK client and pool are reused). */
export interface ExtractionDeps {
  config: ExtractionConfig;
  extractor: Extractor;
}

export async function setupExtraction(services: Services): Promise<ExtractionDeps> {
  const config = services.config as ExtractionConfig;
  return { config, extractor: await createExtractor(config, services.rateLimiter) };
}

/** Runs one extraction of a message; never writes. Provider errors are thrown (ProviderError). */
export async function extractMessage(
  message: MessageForExtraction,
  extractor: Extractor,
  config: Pick<ExtractionConfig, 'EXTRACTION_MAX_INPUT_TOKENS'>,
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
 * provider errors are retried by the queue, and when the job reaches the dead letters its error
 * is stored as `failed` (extractionDeadHook).
 */
export function extractionHandler(schemaVersion: number) {
  return async (payload: ExtractionJob, ctx: JobContext<ExtractionJob, ExtractionDeps>): Promise<void> => {
    const { sql } = ctx.services;
    const { config, extractor } = ctx.deps;
    // During a rolling deploy an old worker may claim a job queued for the new schema: it hands
    // the job back for a newer worker without spending an attempt.
    if (payload.schemaVersion !== undefined && payload.schemaVersion > schemaVersion) {
      throw new Defer(30_000, `queued for schema version ${payload.schemaVersion}; this worker has ${schemaVersion}`);
    }
    const message = await getMessage(sql, payload.messageId);
    // Gone altogether: its extraction rows went with it (on delete cascade).
    if (!message) return;
    if (message.deleted) {
      await saveOutcome(sql, message.id, schemaVersion, { status: 'skipped', error: 'message deleted before extraction' });
      return;
    }
    let outcome: StoredOutcome;
    try {
      outcome = await extractMessage(message, extractor, config, schemaVersion, ctx.signal);
    } catch (err) {
      // A bad key (401/403) is the operator's to fix: keep retrying rather than fail every message.
      const badKey = err instanceof ProviderError && err.isAuthFailure;
      const control = badKey ? err : toJobControl(err);
      const permanent = err instanceof ProviderError && control instanceof PermanentFailure;
      if (permanent) {
        // A request the provider refuses (400, 413, ...) fails the same way every time: stop here.
        await saveOutcome(sql, message.id, schemaVersion, failedOutcome(extractor, err));
        return;
      }
      // Past the in-call retries: rate limited → Defer (attempts kept), other faults → RetryLater.
      throw control;
    }
    await saveOutcome(sql, message.id, schemaVersion, outcome);
    if (outcome.status === 'failed') ctx.log.warn('extraction output invalid after repair', { messageId: message.id, error: outcome.error });
  };
}

function failedOutcome(extractor: Extractor, err: unknown): StoredOutcome {
  return {
    status: 'failed', error: err instanceof Error ? err.message : String(err), rawOutput: null, provider: extractor.provider,
    model: extractor.model, promptVersion: extractor.promptVersion, inputTokens: 0, outputTokens: 0, calls: 1, durationMs: 0,
  };
}

/** An extraction job reached the dead letters: the message's extraction is stored as `failed`. */
export function extractionDeadHook(schemaVersion: number) {
  return async (job: Job<unknown>, ctx: DeadContext<ExtractionDeps>): Promise<void> => {
    const parsed = extractionJob.safeParse(job.payload);
    if (!parsed.success) return;
    const message = await getMessage(ctx.tx, parsed.data.messageId);
    if (!message) return;
    await saveOutcome(ctx.tx, message.id, schemaVersion, failedOutcome(ctx.deps.extractor, new Error(ctx.error.message)));
  };
}
