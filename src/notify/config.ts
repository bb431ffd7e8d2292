import { z } from 'zod';
import { bool, int, type Config, type ConfigProblem } from '../config.ts';

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
  /** Dispatches of one notification before it stays FAILED (the original retried forever); one when every failure was permanent. */
  NOTIFY_MAX_DISPATCHES: int(3, 1, 100),
  /** First delay before a FAILED notification is dispatched again; doubles each time. */
  NOTIFY_REDISPATCH_BASE_MS: int(60_000, 0),
  /** Attempts of one delivery (recipient × channel) inside a run, and the first retry delay (doubling). */
  NOTIFY_DELIVERY_ATTEMPTS: int(3, 1, 20),
  NOTIFY_RETRY_BASE_MS: int(1000, 0),
  /** A PROCESSING row untouched this long is handed to its run again (a crash between claim and start). */
  NOTIFY_STALE_PROCESSING_MS: int(300_000, 1000),
  /** Dispatch jobs handled at once per `notifications` process. */
  NOTIFY_CONCURRENCY: int(64, 1, 10_000),
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
  /**
   * A digest window waits past its end while notifications due inside it are still to be planned
   * (a backlog, a restart), at most this long (0: no wait); then it is sent with what it holds.
   */
  NOTIFY_DIGEST_MAX_WAIT_MS: int(300_000, 0),
  /** Timeout of one outbound call of a channel (chat, SMS, push, Novu). */
  NOTIFY_HTTP_TIMEOUT_MS: int(10_000, 100),
  /**
   * The email channel's bound on connecting to the relay, its greeting and a silent socket
   * (nodemailer's own defaults are 2 and 10 minutes): a hung relay fails the send, which retries.
   */
  NOTIFY_SMTP_TIMEOUT_MS: int(60_000, 1000),
  /**
   * Web push (VAPID, RFC 8292): the application server key pair (base64url, as `web-push
   * generate-vapid-keys` prints it) and a contact (mailto: or https:). All three or none; none,
   * the PUSH channel is off (deliveries SKIPPED), except with the in-process SMTP sink (no
   * NOTIFY_SMTP_URL), where a local push service and a key pair made at start stand in.
   */
  VAPID_PUBLIC_KEY: z.string().optional(),
  VAPID_PRIVATE_KEY: z.string().optional(),
  VAPID_SUBJECT: z.string().optional(),
  /** How long a push service keeps an undelivered message (the TTL header), in seconds. */
  NOTIFY_PUSH_TTL_SECONDS: int(86_400, 0, 2_419_200),
  /**
   * Chat webhooks and push endpoints come from subscriber data, so they may not point at
   * loopback, private, link-local or cloud-metadata addresses; true lets them (local emulators).
   */
  NOTIFY_ALLOW_PRIVATE_WEBHOOKS: bool(false),
});

/** Checks across the slice's variables: the VAPID identity is complete and well formed. */
export function checkNotifyConfig(c: z.infer<typeof notifyConfig>): ConfigProblem[] {
  const vapid = { VAPID_PUBLIC_KEY: c.VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY: c.VAPID_PRIVATE_KEY, VAPID_SUBJECT: c.VAPID_SUBJECT };
  const set = Object.values(vapid).filter((v) => v !== undefined).length;
  if (set === 0) return [];
  const problems: ConfigProblem[] = [];
  for (const [variable, value] of Object.entries(vapid)) {
    if (value === undefined) problems.push({ variable, message: 'is required when any VAPID_* variable is set (web push needs all three)' });
  }
  const bytes = (v: string | undefined) => (v !== undefined && /^[A-Za-z0-9_-]+={0,2}$/.test(v) ? Buffer.from(v, 'base64url') : undefined);
  const pub = bytes(c.VAPID_PUBLIC_KEY);
  if (c.VAPID_PUBLIC_KEY !== undefined && (pub?.length !== 65 || pub[0] !== 4)) {
    problems.push({ variable: 'VAPID_PUBLIC_KEY', message: 'must be a base64url uncompressed P-256 public key (65 bytes)' });
  }
  if (c.VAPID_PRIVATE_KEY !== undefined && bytes(c.VAPID_PRIVATE_KEY)?.length !== 32) {
    problems.push({ variable: 'VAPID_PRIVATE_KEY', message: 'must be a base64url P-256 private key (32 bytes)' });
  }
  if (c.VAPID_SUBJECT !== undefined && !/^(mailto:.+@.+|https:\/\/.+)/.test(c.VAPID_SUBJECT)) {
    problems.push({ variable: 'VAPID_SUBJECT', message: 'must be a mailto: address or an https: URL' });
  }
  return problems;
}

export type NotifyConfig = Config & z.infer<typeof notifyConfig>;
