import { z } from 'zod';
import { bool, int, type Config } from '../config.ts';

/** The email domain's variables (Nylas, webhooks, backfill), part of the boot schema. */
export const emailConfig = z.object({
  // --- Nylas
  NYLAS_API_KEY: z.string().min(1).optional(),
  /** Region base URI; a trailing slash is dropped (the API would see `//v3`). */
  NYLAS_API_URI: z.url({ error: 'must be a URL' }).default('https://api.us.nylas.com').transform((u) => u.replace(/\/+$/, '')),
  /**
   * With no NYLAS_API_KEY, `nova start` of the API and email roles runs the Nylas emulator
   * in-process with a demo mailbox and backfills it (src/cli/demo.ts). Unset: only on the
   * embedded database; true: on a server database too; false: never.
   */
  NOVA_DEMO: z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .optional(),
  /** Key of x-nylas-signature; without it the webhook endpoint refuses deliveries (503). */
  NYLAS_WEBHOOK_SECRET: z.string().min(1).optional(),
  /**
   * Largest webhook body read, in bytes. Nylas sends a `.truncated` notification instead of any
   * object over 1 MB, so a real delivery fits; a bigger one is refused (413) as it streams.
   */
  WEBHOOK_BODY_LIMIT_BYTES: int(1024 * 1024, 1024, 64 * 1024 * 1024),
  /** Bytes all webhook bodies in progress may hold at once per API process; past it, 503. */
  WEBHOOK_BODY_BUDGET_BYTES: int(32 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  /** Longest a delivery waits for the database before it is answered 503 with Retry-After. */
  WEBHOOK_INTAKE_TIMEOUT_MS: int(2000, 50, 60_000),
  /** Requests per second per grant, shared by every process; bursts up to NYLAS_RATE_LIMIT_BURST. */
  NYLAS_RATE_LIMIT_PER_SECOND: int(20, 1),
  NYLAS_RATE_LIMIT_BURST: int(20, 1),
  NYLAS_TIMEOUT_MS: int(30_000, 100),
  /** Retries inside one API call after 429, 5xx or a timeout. */
  NYLAS_MAX_RETRIES: int(3, 0, 20),
  /** Optional minimum gap between Nylas calls of one process (the seed's fixed delay); 0 = none. */
  API_DELAY_MS: int(0, 0),
  /**
   * Webhook notifications processed at once per `webhooks` process. Their statements go to the
   * database together, so more at once means fewer, larger statements per notification.
   */
  WEBHOOK_CONCURRENCY: int(64, 1, 1000),
  /** Optional minimum gap between message requests of one process (the seed's 1000); 0 = none. */
  MESSAGE_DELAY_MS: int(0, 0),

  // --- Backfill (roles backfill, threads, completion)
  /** Threads listed per discovery page (Nylas documents at most 50 for threads). */
  BACKFILL_PAGE_SIZE: int(50, 1, 200),
  /** Thread syncs at once per `threads` process. */
  THREADS_CONCURRENCY: int(8, 1, 1000),
  /** Optional minimum gap between thread syncs started by one process (the seed's 3000); 0 = none. */
  THREAD_DELAY_MS: int(0, 0),
  /** First retry delay of a failed thread sync; doubles with each of its 5 attempts. */
  THREAD_RETRY_DELAY_MS: int(1000, 0),
  COMPLETION_CHECK_INTERVAL_MS: int(5000, 50),
  /** Reopen backfills marked completed while threads are still pending. */
  ENABLE_AUTO_RECOVERY: bool(true),
  RECOVERY_CHECK_INTERVAL_MS: int(60_000, 100),

});

export type EmailConfig = Config & z.infer<typeof emailConfig>;
