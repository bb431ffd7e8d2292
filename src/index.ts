/**
 * Nova's public API for code that embeds it or declares its own domains. Everything else under
 * src/ is internal and may change without notice; test/public-api.test.ts pins this list, so a
 * name added or removed here is a decision, not an accident.
 */

// Configuration and logging.
export { loadConfig, ConfigError, type Config } from './config.ts';
export { createLogger, silentLogger, type Logger, type LogLevel } from './log.ts';
export { VERSION } from './version.ts';

// The queue: producing, consuming by hand, and the events it publishes.
export { QueueClient, type ClaimOptions, type JobRecord } from './queue/queue.ts';
export { EventHub, type NovaEvent } from './queue/events.ts';
export type {
  Job, JobCatalog, SendOptions, SendItem, QueueMetrics, RetryPolicy, StoredError, Wake,
} from './queue/types.ts';

// Job control flow: what a handler throws to say what happens to its job.
export { RetryLater, Defer, Park, PermanentFailure, InvalidPayload, JobCancelled, LeaseLost } from './queue/errors.ts';

// Declaring domains and running them.
export { Runtime, type RuntimeOptions } from './runtime/runtime.ts';
export {
  defineDomain,
  defineQueue,
  loadDomainConfig,
  type Domain,
  type DomainDefinition,
  type Attempt,
  type DeadContext,
  type CommandContext,
  type QueueDefinition,
  type JobHandler,
  type JobContext,
  type LoopDefinition,
  type LoopContext,
  type Services,
} from './runtime/domain.ts';
// A domain's routes throw it to answer in the API's one error shape.
export { HttpError } from './runtime/http-error.ts';

// Shared coordination through the database.
export { RateLimiter, type RateLimit } from './runtime/rate-limit.ts';
export {
  Outbound, ProviderError, toJobControl, fetchAnswer, parseAnswer, type OutboundOptions, type CallOptions, type Budget,
} from './runtime/outbound.ts';
export { parseRetryAfter } from './runtime/retry-after.ts';
export { Lease } from './runtime/lease.ts';

// Storage.
export {
  openDatabase,
  openPglite,
  openPostgres,
  migrate,
  type DatabaseConfig,
  type Sql,
  type Queryable,
} from './storage/index.ts';
export type { ScheduleDefinition, MissedPolicy } from './runtime/schedules.ts';
export {
  defineWorkflow, workflowsDomain, startRun, cancelRun, sendEvent, rerunFromFailure, StepFailed, ChildRunFailed,
  type Workflow, type StepApi, type WorkflowsDomain, type WorkflowEngine,
} from './workflows/index.ts';
export {
  dealsDomain, createDealsDomain, queueDailyBrief, queueDocumentProcessing, queueEmailProcessing, queueSourceSync, queueAllDailyBriefs,
  DAILY_BRIEF_QUEUE, DOCUMENT_QUEUE, EMAIL_QUEUE, SOURCE_SYNC_QUEUE, type DealsConfig,
} from './deals/index.ts';
export { GdriveEmulator } from './emulators/gdrive/index.ts';
