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
export { Lease } from './runtime/lease.ts';
export { openDatabase, openPglite, openPostgres, migrate, type Sql } from './storage/index.ts';
export {
  defineWorkflow, workflowsDomain, startRun, cancelRun, sendEvent, rerunFromFailure, isSuspend, StepFailed, ChildRunFailed,
  type Workflow, type StepApi, type WorkflowsDomain, type WorkflowEngine,
} from './workflows/index.ts';
