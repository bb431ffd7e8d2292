import { defineQueue, type Domain } from '../runtime/domain.ts';
import { inboxRoutes } from './api.ts';
import { discoverThreads, backfillJob } from './backfill.ts';
import { monitorBackfills, recoverPrematureCompletions } from './completion.ts';
import { webhookRoutes } from './intake.ts';
import { BACKFILL_QUEUE, THREAD_QUEUE, WEBHOOK_QUEUE } from './queues.ts';
import { syncThread, threadJob } from './threads.ts';
import { processNotification, webhookJob } from './webhooks.ts';

export { NylasClient } from './nylas/client.ts';
export { signatureMatches } from './intake.ts';
export { BACKFILL_QUEUE, THREAD_QUEUE, WEBHOOK_QUEUE } from './queues.ts';
export { BACKFILL_PROGRESS, backfillTopic, type BackfillProgress } from './progress.ts';

/**
 * Email sync (seeds 000/001): a PostgreSQL copy of every connected mailbox, kept current from
 * Nylas. Webhook intake and the inbox/backfill routes run on the `api` role; the roles below
 * process what they queue.
 */
export const emailDomain: Domain = {
  name: 'email',
  group: 'email',
  roles: ['webhooks', 'backfill', 'threads', 'completion'],
  queues: [
    defineQueue({
      name: WEBHOOK_QUEUE,
      role: 'webhooks',
      schema: webhookJob,
      handler: processNotification,
      concurrency: (config) => config.WEBHOOK_CONCURRENCY,
      // Seed 001: at most 3 attempts per notification.
      retry: { maxAttempts: 3, baseDelayMs: 1000 },
      timeoutMs: 120_000,
    }),
    defineQueue({
      name: BACKFILL_QUEUE,
      role: 'backfill',
      schema: backfillJob,
      handler: discoverThreads,
      // Discovery of one mailbox is one long job; a process discovers a few mailboxes at once.
      concurrency: 4,
      batchSize: 1,
      // Seed 001: 3 attempts, each resuming from the saved checkpoint.
      retry: { maxAttempts: 3, baseDelayMs: 2000 },
      groupConcurrency: 1,
    }),
    defineQueue({
      name: THREAD_QUEUE,
      role: 'threads',
      schema: threadJob,
      handler: syncThread,
      concurrency: (config) => config.THREADS_CONCURRENCY,
      // Claim 32 per round trip (4 x the default concurrency): fewer claim statements, and larger
      // shared commits.
      batchSize: 32,
      // Seed 001: at most 5 attempts per thread.
      retry: (config) => ({ maxAttempts: 5, baseDelayMs: config.THREAD_RETRY_DELAY_MS }),
      timeoutMs: 300_000,
    }),
  ],
  loops: (config) => [
    { name: 'backfill-completion', role: 'completion', singleton: true, intervalMs: config.COMPLETION_CHECK_INTERVAL_MS, run: monitorBackfills },
    ...(config.ENABLE_AUTO_RECOVERY
      ? [{ name: 'backfill-recovery', role: 'completion', singleton: true, intervalMs: config.RECOVERY_CHECK_INTERVAL_MS, run: recoverPrematureCompletions }]
      : []),
  ],
  routes: async (app, services) => {
    // Scopes of their own: webhook routes read raw bodies, the others parse JSON.
    await app.register(async (scope) => webhookRoutes(scope, services));
    await app.register(async (scope) => inboxRoutes(scope, services));
  },
};
