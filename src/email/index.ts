import { defineDomain, defineQueue } from '../runtime/domain.ts';
import { inboxRoutes } from './api.ts';
import { registerBackfillCommands } from './cli.ts';
import type { z } from 'zod';
import { discoverThreads, backfillJob, onDiscoveryDead, type BackfillJob } from './backfill.ts';
import { monitorBackfills, recoverPrematureCompletions } from './completion.ts';
import { emailConfig, type EmailConfig } from './config.ts';
import { setupEmail, type EmailDeps } from './deps.ts';
import { webhookRoutes } from './intake.ts';
import { BACKFILL_QUEUE, THREAD_QUEUE, WEBHOOK_QUEUE } from './queues.ts';
import { onThreadDead, syncThread, threadJob, type ThreadJob } from './threads.ts';
import { onNotificationDead, processNotification, webhookJob } from './webhooks.ts';

export { NylasClient } from './nylas/client.ts';
export { signatureMatches } from './intake.ts';
export { BACKFILL_QUEUE, THREAD_QUEUE, WEBHOOK_QUEUE } from './queues.ts';
export { BACKFILL_PROGRESS, backfillTopic, type BackfillProgress } from './progress.ts';
export { emailConfig, type EmailConfig } from './config.ts';

// The email queues in the typed job catalog: send() checks their payloads.
declare module '../queue/types.ts' {
  interface JobCatalog {
    nylas_webhook_notifications: z.infer<typeof webhookJob>;
    inbox_backfill_jobs: BackfillJob;
    thread_sync_jobs: ThreadJob;
  }
}

/**
 * Email sync (seeds 000/001): a PostgreSQL copy of every connected mailbox, kept current from
 * Nylas. Webhook intake and the inbox/backfill routes run on the `api` role; the roles below
 * process what they queue.
 */
export const emailDomain = defineDomain<EmailDeps, typeof emailConfig.shape>({
  name: 'email',
  group: 'email',
  roles: ['webhooks', 'backfill', 'threads', 'completion'],
  config: emailConfig,
  owns: [
    'flux_inboxes', 'flux_email_threads', 'flux_email_messages', 'flux_inbox_configurations',
    'flux_webhook_notifications', 'queued_threads', 'inbox_sync_stats', 'backfill_history',
  ],
  setup: setupEmail,
  queues: (c) => {
    const config = c as EmailConfig;
    return [
      defineQueue({
        name: WEBHOOK_QUEUE,
        role: 'webhooks',
        schema: webhookJob,
        handler: processNotification,
        concurrency: config.WEBHOOK_CONCURRENCY,
        // Seed 001: at most 3 attempts per notification.
        retry: { maxAttempts: 3, baseDelayMs: 1000 },
        timeoutMs: 120_000,
        onDead: onNotificationDead,
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
        onDead: onDiscoveryDead,
      }),
      defineQueue({
        name: THREAD_QUEUE,
        role: 'threads',
        schema: threadJob,
        handler: syncThread,
        concurrency: config.THREADS_CONCURRENCY,
        // Claim 32 per round trip (4 x the default concurrency): fewer claim statements, and larger
        // shared commits.
        batchSize: 32,
        // Seed 001: at most 5 attempts per thread.
        retry: { maxAttempts: 5, baseDelayMs: config.THREAD_RETRY_DELAY_MS },
        timeoutMs: 300_000,
        onDead: onThreadDead,
      }),
    ];
  },
  loops: (c) => {
    const config = c as EmailConfig;
    return [
      { name: 'backfill-completion', role: 'completion', singleton: true, intervalMs: config.COMPLETION_CHECK_INTERVAL_MS, run: monitorBackfills },
      ...(config.ENABLE_AUTO_RECOVERY
        ? [{ name: 'backfill-recovery', role: 'completion', singleton: true, intervalMs: config.RECOVERY_CHECK_INTERVAL_MS, run: recoverPrematureCompletions }]
        : []),
    ];
  },
  routes: async (app, services, deps) => {
    // Scopes of their own: webhook routes read raw bodies, the others parse JSON.
    await app.register(async (scope) => webhookRoutes(scope, services, deps));
    await app.register(async (scope) => inboxRoutes(scope, services, deps));
  },
  commands: registerBackfillCommands,
});
