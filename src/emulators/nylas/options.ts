/**
 * The emulator's knobs: each has one name, one default and one check, here. Options are parsed
 * once in the constructor (and fault changes in setFaults) and fail fast naming every bad field.
 */
import { z } from 'zod';

/** Faults applied to API requests, each decided independently per request from a seeded PRNG. */
export interface FaultOptions {
  /** Fraction of API requests answered 503 (or 500) with an error envelope. */
  errorRate?: number;
  /** Milliseconds added to every API response. */
  latencyMs?: number;
  /** Fraction of requests that never answer (the socket stays open until the client gives up or stop()). */
  timeoutRate?: number;
  /** Fraction of successful responses whose JSON body is cut in half (Content-Length matches the cut). */
  truncateRate?: number;
  /**
   * Fraction of requests whose connection is reset (TCP RST): half before any answer, half
   * after the status line, headers and part of the body were sent.
   */
  resetRate?: number;
  /** Fraction of requests answered 429 with Retry-After, as a provider (Gmail) throttle. */
  throttleRate?: number;
}

export interface NylasEmulatorOptions {
  /** Default 1; the same seed and grant give the same mailbox, byte for byte. */
  seed?: number;
  /** Default 40. */
  threadsPerGrant?: number;
  /** Default 3; every thread has exactly this many messages, so counts are exact. */
  messagesPerThread?: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`, else 401. */
  apiKey?: string;
  /** Default 50; a larger `limit` on /threads is a 400. */
  maxThreadPageSize?: number;
  /** Default 200; a larger `limit` on /messages is a 400. */
  maxMessagePageSize?: number;
  /** Per grant token bucket (burst = max(1, rate)); over it: 429 with Retry-After. */
  rateLimitPerSecond?: number;
  faults?: FaultOptions;
  /** Key for the x-nylas-signature HMAC. */
  webhookSecret?: string;
  /** Where signed webhooks are POSTed. */
  webhookUrl?: string;
  /** `data.application_id` in webhooks; default "emulator-application". */
  applicationId?: string;
  /**
   * The instant the mailbox is generated back from (Date or epoch milliseconds). Default: the
   * current time rounded down to the UTC day, so runs on the same day reproduce; tests pin it.
   */
  now?: Date | number;
}

const fraction = z.number().min(0).max(1);

export const faultOptionsSchema = z.strictObject({
  errorRate: fraction.optional(),
  latencyMs: z.number().int().min(0).max(600_000).optional(),
  timeoutRate: fraction.optional(),
  truncateRate: fraction.optional(),
  resetRate: fraction.optional(),
  throttleRate: fraction.optional(),
});

const DAY_MS = 86_400_000;

const optionsSchema = z.strictObject({
  seed: z.number().refine(Number.isFinite, 'must be a finite number').default(1),
  threadsPerGrant: z.number().int().min(0).max(50_000_000).default(40),
  messagesPerThread: z.number().int().min(1).max(10_000).default(3),
  apiKey: z.string().min(1).optional(),
  maxThreadPageSize: z.number().int().min(1).default(50),
  maxMessagePageSize: z.number().int().min(1).default(200),
  rateLimitPerSecond: z.number().positive().optional(),
  faults: faultOptionsSchema.default({}),
  webhookSecret: z.string().min(1).optional(),
  webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
  applicationId: z.string().min(1).default('emulator-application'),
  // The floor catches unix seconds passed by mistake (they would land in 1970).
  now: z.union([z.date(), z.number().int().min(1e11, 'now is epoch milliseconds')]).optional(),
});

export interface ResolvedOptions extends Omit<z.output<typeof optionsSchema>, 'now'> {
  /** Unix seconds. */
  now: number;
}

export function resolveOptions(options: NylasEmulatorOptions): ResolvedOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new RangeError(`invalid NylasEmulator options:\n${z.prettifyError(parsed.error)}`);
  const { now, ...rest } = parsed.data;
  const ms = now === undefined ? Math.floor(Date.now() / DAY_MS) * DAY_MS : now instanceof Date ? now.getTime() : now;
  return { ...rest, now: Math.floor(ms / 1000) };
}

export function resolveFaults(faults: FaultOptions): FaultOptions {
  const parsed = faultOptionsSchema.safeParse(faults);
  if (!parsed.success) throw new RangeError(`invalid fault options:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
