import type { Services } from '../runtime/domain.ts';
import type { EmailConfig } from './config.ts';
import { createNylasClient } from './nylas.ts';
import type { NylasClient } from './nylas/client.ts';
import { progressPublisher, type ProgressPublisher } from './progress.ts';
import { threadBatches, type ThreadBatches } from './threads.ts';
import { webhookBatches, type WebhookBatches } from './webhooks.ts';

/**
 * What the email domain keeps per process, built once by its setup and handed to its handlers,
 * loops and routes: the Nylas client, the batchers that let concurrent jobs share statements,
 * the progress throttle, and the completion monitor's recount clock.
 */
export interface EmailDeps {
  services: Services;
  config: EmailConfig;
  nylas: NylasClient | undefined;
  progress: ProgressPublisher;
  threads: ThreadBatches;
  webhooks: WebhookBatches;
  /** The completion monitor's memory: when it last recounted every backfill's threads. */
  monitor: { lastRecountAt: number };
}

export function setupEmail(services: Services): EmailDeps {
  const config = services.config as EmailConfig;
  return {
    services,
    config,
    nylas: createNylasClient(config, services),
    progress: progressPublisher(services.events),
    threads: threadBatches(services.sql, config),
    webhooks: webhookBatches(services.sql),
    monitor: { lastRecountAt: 0 },
  };
}
