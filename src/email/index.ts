import { defineQueue, type Domain } from '../runtime/domain.ts';
import { webhookRoutes } from './intake.ts';
import { WEBHOOK_QUEUE } from './queues.ts';
import { processNotification, webhookJob } from './webhooks.ts';

export { NylasClient, NylasApiError, NylasResponseError } from './nylas/client.ts';
export { signatureMatches } from './intake.ts';
export { WEBHOOK_QUEUE } from './queues.ts';

/**
 * Email sync (seeds 000/001): a PostgreSQL copy of every connected mailbox, kept current from
 * Nylas. Webhook intake runs on the `api` role; the roles below process what it queues.
 */
export const emailDomain: Domain = {
  name: 'email',
  group: 'email',
  roles: ['webhooks'],
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
  ],
  routes: async (app, services) => {
    // A scope of its own: webhook routes read raw bodies, other routes parse JSON.
    await app.register(async (scope) => webhookRoutes(scope, services));
  },
};
