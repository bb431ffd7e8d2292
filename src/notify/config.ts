import { z } from 'zod';
import { int, type Config } from '../config.ts';

const optionalUrl = z.url({ error: 'must be a URL' }).optional().transform((u) => u?.replace(/\/+$/, ''));

/**
 * The notifications domain's variables (seed 002), part of the boot schema. The new-row poller
 * runs every POLL_INTERVAL_MS (the engine's variable, which seed 002 also names); the rest keep
 * the seed's names and defaults.
 */
export const notifyConfig = z.object({
  /** Failed notifications due for another dispatch are looked for this often (seed 002). */
  FAILED_POLL_INTERVAL_MS: int(60_000, 10),
  /** Scheduled notifications that came due are looked for this often (seed 002). */
  SCHEDULED_POLL_INTERVAL_MS: int(30_000, 10),
  /** Rows per poll (seed 002). */
  POLL_BATCH_SIZE: int(100, 1, 10_000),
  /** Dispatches of one notification before it stays FAILED (the original retried forever). */
  NOTIFY_MAX_DISPATCHES: int(3, 1, 100),
  /** First delay before a FAILED notification is dispatched again; doubles each time. */
  NOTIFY_REDISPATCH_BASE_MS: int(60_000, 0),
  /** Attempts of one delivery (recipient × channel) inside a run, and the first retry delay (doubling). */
  NOTIFY_DELIVERY_ATTEMPTS: int(3, 1, 20),
  NOTIFY_RETRY_BASE_MS: int(1000, 0),
  /** A PROCESSING row untouched this long is handed to its run again (a crash between claim and start). */
  NOTIFY_STALE_PROCESSING_MS: int(300_000, 1000),
  /** Dispatch jobs handled at once per `notifications` process. */
  NOTIFY_CONCURRENCY: int(32, 1, 10_000),
  /** SMTP relay (smtp:// or smtps://user:pass@host:port); unset, an in-process SMTP sink captures mail. */
  NOTIFY_SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
  NOTIFY_EMAIL_FROM: z.string().min(3).default('Nova <notifications@nova.local>'),
  /** Twilio-compatible Messages API for SMS; unset, the SMS channel is off (deliveries SKIPPED). */
  TWILIO_API_URL: optionalUrl.default('https://api.twilio.com'),
  TWILIO_ACCOUNT_SID: z.string().min(1).optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  TWILIO_FROM: z.string().min(1).optional(),
  /** HMAC-SHA256 key signing generic chat webhooks (header X-Nova-Signature); unset, they go unsigned. */
  NOTIFY_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Novu forwarding for workflows marked forward_to_novu (the original's path). */
  NOVU_SECRET_KEY: z.string().min(1).optional(),
  NOVU_API_URL: optionalUrl.default('https://api.novu.co'),
  /** CRON rules are matched to the engine's schedules this often (the original's rule polling loop). */
  RULE_POLL_INTERVAL_MS: int(30_000, 10),
  /** Digest buckets are checked for a due flush this often. */
  NOTIFY_DIGEST_INTERVAL_MS: int(1000, 10),
  /** Timeout of one outbound call of a channel (chat, SMS, Novu). */
  NOTIFY_HTTP_TIMEOUT_MS: int(10_000, 100),
});

export type NotifyConfig = Config & z.infer<typeof notifyConfig>;
