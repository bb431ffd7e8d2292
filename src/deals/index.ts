import { defineDomain, defineQueue } from '../runtime/domain.ts';
import { parseCron } from '../runtime/schedules.ts';
import { dealsRoutes } from './api.ts';
import { generateBrief, onBriefDead } from './brief.ts';
import { registerDealsCommands } from './cli.ts';
import { dealsConfig, type DealsConfig } from './config.ts';
import { DriveNotConfigured, GraphNotConfigured, NylasNotConfigured, setupDeals, type DealsDeps } from './deps.ts';
import { isPermanentDocumentError, onDocumentDead, processDocument } from './documents.ts';
import { isPermanentEmailError, onEmailDead, processEmail } from './emails.ts';
import { fanOutBriefs } from './fanout.ts';
import {
  ATTEMPTS, BRIEF_FANOUT_QUEUE, briefFanoutJob, DAILY_BRIEF_QUEUE, dailyBriefJob, DOCUMENT_QUEUE, documentJob, EMAIL_QUEUE, emailJob,
  SOURCE_SYNC_QUEUE, sourceSyncJob, type BriefFanoutJob, type DailyBriefJob, type DocumentJob, type EmailJob, type SourceSyncJob,
} from './queues.ts';
import { onSyncDead, syncSource } from './sync.ts';

export {
  ATTEMPTS, BRIEF_FANOUT_QUEUE, DAILY_BRIEF_QUEUE, DOCUMENT_QUEUE, EMAIL_QUEUE, SOURCE_SYNC_QUEUE, dayIn,
  queueDailyBrief, queueDocumentProcessing, queueEmailProcessing, queueSourceSync,
  type DailyBriefJob, type DocumentJob, type DocumentOperation, type EmailJob, type EmailOperation, type SourceSyncJob, type SourceType, type SyncType,
} from './queues.ts';
export { queueAllDailyBriefs } from './fanout.ts';
export { buildBrief } from './brief.ts';
export { BuiltinAnalyzer, type DealAnalyzer, type DocumentInput, type EmailInput } from './analysis.ts';
export { dealsConfig, type DealsConfig } from './config.ts';
export { answerDealPrompt, LlmDealAnalyzer, LlmOutputError, type LlmAnalyzerOptions } from './llm-analyzer.ts';
export { setupDeals, type DealsDeps, type DealsSetupOptions } from './deps.ts';

// The deals queues in the typed job catalog: send() checks their payloads.
declare module '../queue/types.ts' {
  interface JobCatalog {
    'daily-brief': DailyBriefJob;
    'document-processing': DocumentJob;
    'email-processing': EmailJob;
    'source-sync': { dealId: string; sourceType: SourceSyncJob['sourceType']; syncType?: SourceSyncJob['syncType'] };
    'daily-brief-fanout': BriefFanoutJob;
  }
}

/** The name of the daily-brief schedule in nova_schedules. */
export const DAILY_BRIEF_SCHEDULE = 'deals.daily-brief';

/**
 * Deal intelligence (seed 003, DealPulse): daily briefs, document and email analysis, source
 * sync, and the 8:00 schedule that briefs every active deal. Routes run on the `api` role.
 * `options` lets tests swap the analyzer; the shipped domain uses the builtin one.
 */
export function createDealsDomain(options: Parameters<typeof setupDeals>[1] = {}) {
  return defineDomain<DealsDeps, typeof dealsConfig.shape>({
    name: 'deals',
    group: 'deals',
    roles: ['daily-brief', 'documents', 'emails', 'source-sync', 'scheduler'],
    config: dealsConfig,
    // A bad cron or zone stops the start with exit 78 naming the variable.
    checkConfig: (config) => {
      try {
        parseCron(config.DAILY_BRIEF_TIME, config.TIMEZONE);
        return [];
      } catch (err) {
        const zone = /time zone/.test((err as Error).message);
        return [{ variable: zone ? 'TIMEZONE' : 'DAILY_BRIEF_TIME', message: (err as Error).message }];
      }
    },
    owns: ['deals', 'workstreams', 'documents', 'communications', 'briefs', 'source_connections'],
    setup: (services) => setupDeals(services, options),
    queues: (c) => {
      const config = c as DealsConfig;
      // The seed's backoff: 5 s, then 25 s, then 125 s (a factor of 5, no jitter).
      const retry = (maxAttempts: number) => ({ maxAttempts, baseDelayMs: config.DEALS_RETRY_BASE_MS, factor: 5, jitter: false });
      return [
        defineQueue({
          name: DAILY_BRIEF_QUEUE, role: 'daily-brief', schema: dailyBriefJob, handler: generateBrief,
          concurrency: 2, retry: retry(ATTEMPTS[DAILY_BRIEF_QUEUE]), timeoutMs: 120_000, onDead: onBriefDead,
        }),
        defineQueue({
          name: DOCUMENT_QUEUE, role: 'documents', schema: documentJob, handler: processDocument,
          concurrency: 5, retry: retry(ATTEMPTS[DOCUMENT_QUEUE]), timeoutMs: 300_000, nonRetryable: isPermanentDocumentError, onDead: onDocumentDead,
        }),
        defineQueue({
          name: EMAIL_QUEUE, role: 'emails', schema: emailJob, handler: processEmail,
          concurrency: 10, retry: retry(ATTEMPTS[EMAIL_QUEUE]), timeoutMs: 120_000, nonRetryable: isPermanentEmailError, onDead: onEmailDead,
        }),
        defineQueue({
          name: SOURCE_SYNC_QUEUE, role: 'source-sync', schema: sourceSyncJob, handler: syncSource,
          concurrency: 3, retry: retry(ATTEMPTS[SOURCE_SYNC_QUEUE]), timeoutMs: 1_800_000,
          nonRetryable: (err) => err instanceof DriveNotConfigured || err instanceof GraphNotConfigured || err instanceof NylasNotConfigured, onDead: onSyncDead,
        }),
        defineQueue({
          name: BRIEF_FANOUT_QUEUE, role: 'scheduler', schema: briefFanoutJob, handler: fanOutBriefs, concurrency: 1,
          retry: retry(ATTEMPTS[BRIEF_FANOUT_QUEUE]), timeoutMs: 300_000,
        }),
      ];
    },
    schedules: (c) => {
      const config = c as DealsConfig;
      // One occurrence fires once across every replica (the schedule row's lock); after downtime
      // the latest missed 8:00 still runs, once, so no day goes without its briefs.
      return [{ name: DAILY_BRIEF_SCHEDULE, cron: config.DAILY_BRIEF_TIME, timezone: config.TIMEZONE, queue: BRIEF_FANOUT_QUEUE, missed: 'run-once', catchUpMs: 86_400_000 }];
    },
    routes: async (app, services, deps) => {
      await app.register(async (scope) => dealsRoutes(scope, services, deps));
    },
    commands: registerDealsCommands,
    // The Tesseract worker thread would keep the process alive.
    stop: async (deps) => deps.ocr?.close(),
  });
}

export const dealsDomain = createDealsDomain();
