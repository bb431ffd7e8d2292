import { z } from 'zod';
import { webhookEnvelope, type WebhookEnvelope } from './nylas/wire.ts';

/**
 * Everything a signed webhook body must satisfy before any of it reaches SQL. A delivery that
 * PostgreSQL would refuse (a `\u0000` in a string, a time `to_timestamp` cannot hold, an attempt
 * past int4, an id too long for an index entry, JSON nested deeper than the server's stack) is
 * either cleaned here, with a note of what was changed, or refused with a reason, so the sender
 * gets a 400 and the audit log a row, never a 500 it would redeliver forever.
 */

/** Ids and types longer than this are not Nylas's (theirs are UUIDs and short dotted names). */
export const MAX_ID_LENGTH = 256;
/** Nesting Nylas objects never come near (a message is 4 deep); PostgreSQL's jsonb parser recurses. */
export const MAX_DEPTH = 64;
/** 9999-12-31T23:59:59Z: the last second `to_timestamp` and JavaScript dates agree on. */
export const MAX_TIME = 253_402_300_799;
/** Nylas retries a delivery a handful of times; anything near int4's limit is not a count. */
export const MAX_DELIVERY_ATTEMPT = 1_000_000;
/** Raw bodies kept in the audit log for refused deliveries, so a flood of junk cannot bloat it. */
export const MAX_RAW_BODY_CHARS = 64 * 1024;

// Control characters make an id unusable as a key (and NUL cannot be stored at all).
const identifier = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH)
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters');

const boundedEnvelope = webhookEnvelope.extend({
  type: identifier,
  id: identifier,
  specversion: z.string().max(MAX_ID_LENGTH).optional(),
  source: z.string().max(4096).optional(),
  time: z.number().min(0).max(MAX_TIME).optional(),
  webhook_delivery_attempt: z.number().int().min(0).max(MAX_DELIVERY_ATTEMPT).optional(),
  data: z.looseObject({
    application_id: z.string().max(MAX_ID_LENGTH).optional(),
    object: z.unknown(),
  }),
});

export type InspectedDelivery =
  | {
      ok: true;
      envelope: WebhookEnvelope;
      /** What was changed to make the delivery storable (empty for almost every delivery). */
      notes: string[];
    }
  | {
      ok: false;
      code: 'malformed_json' | 'invalid_notification';
      reason: string;
      /** The envelope id, when it is one that can be stored. */
      id?: string;
    };

/** Parses, bounds and cleans the text of a signed delivery. Never throws. */
export function inspectDelivery(text: string): InspectedDelivery {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, code: 'malformed_json', reason: `malformed JSON: ${(err as Error).message}` };
  }
  const rawId = (json as { id?: unknown } | null)?.id;
  const id = identifier.safeParse(rawId).success ? (rawId as string) : undefined;
  const refuse = (reason: string): InspectedDelivery => ({ ok: false, code: 'invalid_notification', reason: `not a Nylas notification: ${reason}`, ...(id !== undefined && { id }) });

  const depth = depthOf(json, MAX_DEPTH);
  if (depth > MAX_DEPTH) return refuse(`(body): nested deeper than ${MAX_DEPTH} levels`);

  const parsed = boundedEnvelope.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return refuse(`${issue?.path.join('.') || '(body)'}: ${issue?.message}`);
  }
  // The audit row's grant_id column is read from here (notifications.ts), so it is bounded too.
  const grant = (parsed.data.data.object as { grant_id?: unknown } | null | undefined)?.grant_id;
  const grantCheck = identifier.safeParse(grant);
  if (typeof grant === 'string' && !grantCheck.success) return refuse(`data.object.grant_id: ${grantCheck.error.issues[0]?.message}`);

  const counts = { nul: 0, surrogates: 0 };
  const envelope = clean(parsed.data, counts) as WebhookEnvelope;
  const notes: string[] = [];
  if (counts.nul) notes.push(`${counts.nul} NUL character(s) removed from strings`);
  if (counts.surrogates) notes.push(`${counts.surrogates} unpaired UTF-16 surrogate(s) replaced with U+FFFD`);
  return { ok: true, envelope, notes };
}

/** The nesting depth of a JSON value, counted without recursion and given up past `limit`. */
export function depthOf(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const level = d + 1;
    if (level > deepest) deepest = level;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, level]);
    }
  }
  return deepest;
}

const NUL = /\u0000/g;
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A string PostgreSQL accepts in text and jsonb: NUL removed (text cannot hold it, jsonb refuses
 * `\u0000`), unpaired surrogates (which JSON.stringify writes as escapes jsonb refuses) replaced.
 */
export function storableText(s: string, counts?: { nul: number; surrogates: number }): string {
  let out = s;
  if (out.includes('\u0000')) {
    if (counts) counts.nul += out.match(NUL)!.length;
    out = out.replace(NUL, '');
  }
  if (/[\ud800-\udfff]/.test(out)) {
    out = out.replace(LONE_SURROGATE, () => {
      if (counts) counts.surrogates++;
      return '\ufffd';
    });
  }
  return out;
}

/** A copy of a JSON value (depth already bounded) whose strings and keys are all storable. */
function clean(value: unknown, counts: { nul: number; surrogates: number }): unknown {
  if (typeof value === 'string') return storableText(value, counts);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => clean(v, counts));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[storableText(k, counts)] = clean(v, counts);
  return out;
}

/** The raw body of a refused delivery as the audit log keeps it: storable and bounded. */
export function auditableBody(text: string): string {
  const kept = text.length > MAX_RAW_BODY_CHARS ? `${text.slice(0, MAX_RAW_BODY_CHARS)}…[${text.length - MAX_RAW_BODY_CHARS} more characters not kept]` : text;
  return storableText(kept);
}
