import { defineDomain, defineQueue, type Domain } from '../runtime/domain.ts';
import { extractionConfig, type ExtractionConfig } from './config.ts';
import { checkProviderConfig } from './providers/index.ts';
import { registerExtractCommands } from './cli.ts';
import { queueExtractions } from './queueing.ts';
import { extractionRoutes } from './routes.ts';
import { EXTRACTION_SCHEMA_VERSION } from './schema.ts';
import {
  EXTRACTION_QUEUE, extractionDeadHook, extractionHandler, extractionJob, setupExtraction, type ExtractionDeps, type ExtractionJob,
} from './worker.ts';

export { EXTRACTION_QUEUE, extractMessage, setupExtraction, type ExtractionDeps } from './worker.ts';
export { extractionConfig, type ExtractionConfig } from './config.ts';
export { checkProviderConfig, createChatModel, createExtractor, resolveProvider } from './providers/index.ts';
export { jsonIn } from './prompt.ts';
export { fromSdkError, type ChatMessage, type ChatModel, type ChatRequest } from './llm.ts';
export { BuiltinExtractor, extractBuiltin, extractFromPrompt } from './builtin/index.ts';
export { parseUserPrompt, systemPrompt, userPrompt } from './prompt.ts';
export { findMessage, listExtractions, saveOutcome } from './store.ts';
export { pickExtraction } from './routes.ts';
export {
  EXTRACTION_SCHEMA_VERSION, PROMPT_VERSION, extractionOutput, extractionRecord, outputJsonSchema,
  type ExtractionOutput, type ExtractionRecord,
} from './schema.ts';
export type { ExtractionInput } from './extractor.ts';

// The extraction queue in the typed job catalog.
declare module '../queue/types.ts' {
  interface JobCatalog {
    message_extraction_jobs: ExtractionJob;
  }
}

export const EXTRACTION_QUEUE_ROLE = 'extraction-queue';
export const EXTRACTION_ROLE = 'extraction';

/**
 * AI extraction (seed 000): `extraction-queue` (a singleton loop, by lease) queues every message
 * that has no extraction at the current schema version; `extraction` (scale it out) runs the
 * provider and stores the result. Both roles belong to the `email` group: they are part of the
 * email service, and a group named `extraction` would shadow the role of the same name that seed
 * 000 deployments select with WORKER_TYPE=extraction.
 *
 * `schemaVersion` is there for tests of a version bump; production uses the schema's own.
 */
export function createExtractionDomain(options: { schemaVersion?: number } = {}): Domain {
  const schemaVersion = options.schemaVersion ?? EXTRACTION_SCHEMA_VERSION;
  return defineDomain<ExtractionDeps, typeof extractionConfig.shape>({
    name: 'extraction',
    group: 'email',
    roles: [EXTRACTION_QUEUE_ROLE, EXTRACTION_ROLE],
    config: extractionConfig,
    // A provider chosen without its key stops the process at start (exit 78), not at the first job.
    checkConfig: checkProviderConfig,
    owns: ['email_extractions'],
    setup: setupExtraction,
    queues: (c) => [
      defineQueue({
        name: EXTRACTION_QUEUE,
        role: EXTRACTION_ROLE,
        schema: extractionJob,
        handler: extractionHandler(schemaVersion),
        concurrency: (c as ExtractionConfig).EXTRACTION_CONCURRENCY,
        // Provider outages are retried in the call (Retry-After, backoff); these are the job's.
        retry: { maxAttempts: 5, baseDelayMs: 5000, maxDelayMs: 600_000 },
        // Two calls (answer + repair), each up to LLM_TIMEOUT_MS, plus rate-limit waits.
        timeoutMs: 300_000,
        onDead: extractionDeadHook(schemaVersion),
      }),
    ],
    loops: (c) => {
      const config = c as ExtractionConfig;
      return [
        {
          name: EXTRACTION_QUEUE_ROLE,
          role: EXTRACTION_QUEUE_ROLE,
          intervalMs: config.EXTRACTION_QUEUE_INTERVAL_MS,
          singleton: true,
          run: async (ctx) => {
            await queueExtractions(ctx, {
              schemaVersion, batch: config.EXTRACTION_QUEUE_BATCH, requeueAfterMs: config.EXTRACTION_REQUEUE_AFTER_MS,
            });
          },
        },
      ];
    },
    routes: (app, services, deps) => extractionRoutes(app, services, deps, schemaVersion),
    commands: registerExtractCommands,
  });
}

export const extractionDomain: Domain = createExtractionDomain();
