/** Nova's public API for code that embeds it or declares its own domains. */
export { loadConfig, ConfigError, type Config } from './config.ts';
export { createLogger, silentLogger, type Logger } from './log.ts';
export { QueueClient, type ClaimOptions, type JobRecord } from './queue/queue.ts';
export { EventHub, type NovaEvent } from './queue/events.ts';
export { RetryLater, PermanentFailure, LeaseLost } from './queue/errors.ts';
export type { Job, SendOptions, SendItem, QueueMetrics, RetryPolicy } from './queue/types.ts';
export { Runtime, type RuntimeOptions } from './runtime/runtime.ts';
export { defineQueue, type Domain, type QueueDefinition, type LoopDefinition, type JobContext, type Services } from './runtime/domain.ts';
export { RateLimiter, type RateLimit } from './runtime/rate-limit.ts';
export {
  Outbound, ProviderError, toJobControl, fetchAnswer, parseAnswer, type OutboundOptions, type CallOptions, type Budget,
} from './runtime/outbound.ts';
export { parseRetryAfter } from './runtime/retry-after.ts';
export { Lease } from './runtime/lease.ts';
export { openDatabase, openPglite, openPostgres, migrate, type Sql } from './storage/index.ts';
export type { ScheduleDefinition, MissedPolicy } from './runtime/schedules.ts';
export {
  dealsDomain, createDealsDomain, queueDailyBrief, queueDocumentProcessing, queueEmailProcessing, queueSourceSync, queueAllDailyBriefs,
  DAILY_BRIEF_QUEUE, DOCUMENT_QUEUE, EMAIL_QUEUE, SOURCE_SYNC_QUEUE, type DealsConfig,
} from './deals/index.ts';
export { GdriveEmulator } from './emulators/gdrive/index.ts';
