import { z } from 'zod';

/**
 * The Nylas v3 wire format (snake_case), parsed once at the edge. Only the fields Nova stores are
 * required to have a type; unknown fields pass through untouched. Dates are unix seconds.
 */

export const participant = z.object({ name: z.string().nullish(), email: z.string() });
export type Participant = z.infer<typeof participant>;

const participants = z.array(participant).nullish().transform((v) => v ?? []);
const strings = z.array(z.string()).nullish().transform((v) => v ?? []);

export const attachment = z.looseObject({
  id: z.string(),
  filename: z.string().nullish(),
  content_type: z.string().nullish(),
  size: z.number().nullish(),
  content_id: z.string().nullish(),
  content_disposition: z.string().nullish(),
  is_inline: z.boolean().nullish(),
});

export const message = z.looseObject({
  id: z.string(),
  grant_id: z.string(),
  object: z.literal('message').optional(),
  thread_id: z.string(),
  subject: z.string().nullish(),
  from: participants,
  to: participants,
  cc: participants,
  bcc: participants,
  reply_to: participants,
  date: z.number(),
  unread: z.boolean().nullish(),
  starred: z.boolean().nullish(),
  snippet: z.string().nullish(),
  body: z.string().nullish(),
  folders: strings,
  attachments: z.array(attachment).nullish().transform((v) => v ?? []),
  headers: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
});
export type Message = z.infer<typeof message>;

export const thread = z.looseObject({
  id: z.string(),
  grant_id: z.string(),
  object: z.literal('thread').optional(),
  subject: z.string().nullish(),
  snippet: z.string().nullish(),
  participants,
  message_ids: strings,
  draft_ids: strings,
  folders: strings,
  has_attachments: z.boolean().nullish(),
  has_drafts: z.boolean().nullish(),
  unread: z.boolean().nullish(),
  starred: z.boolean().nullish(),
  earliest_message_date: z.number().nullish(),
  latest_message_received_date: z.number().nullish(),
  latest_message_sent_date: z.number().nullish(),
});
export type Thread = z.infer<typeof thread>;

export const grant = z.looseObject({
  id: z.string(),
  grant_status: z.string().nullish(),
  email: z.string().nullish(),
  provider: z.string().nullish(),
});
export type Grant = z.infer<typeof grant>;

const buildList = <T extends z.ZodType>(item: T) =>
  z.object({ request_id: z.string().nullish(), data: z.array(item), next_cursor: z.string().nullish() });
const buildSingle = <T extends z.ZodType>(item: T) => z.object({ request_id: z.string().nullish(), data: item });

// Built once per item schema: zod compiles a schema on its first parse, which is costly enough
// to show in a profile when every response builds a new envelope.
const lists = new WeakMap<z.ZodType, z.ZodType>();
const singles = new WeakMap<z.ZodType, z.ZodType>();

export function listEnvelope<T extends z.ZodType>(item: T): ReturnType<typeof buildList<T>> {
  let schema = lists.get(item);
  if (!schema) lists.set(item, (schema = buildList(item)));
  return schema as ReturnType<typeof buildList<T>>;
}

export function singleEnvelope<T extends z.ZodType>(item: T): ReturnType<typeof buildSingle<T>> {
  let schema = singles.get(item);
  if (!schema) singles.set(item, (schema = buildSingle(item)));
  return schema as ReturnType<typeof buildSingle<T>>;
}

export const errorEnvelope = z.object({
  request_id: z.string().nullish(),
  error: z.looseObject({ type: z.string().nullish(), message: z.string().nullish() }),
});

/** A webhook delivery (CloudEvents-style envelope). `data.object` is checked per type later. */
export const webhookEnvelope = z.object({
  specversion: z.string().optional(),
  type: z.string().min(1),
  source: z.string().optional(),
  id: z.string().min(1),
  time: z.number().optional(),
  webhook_delivery_attempt: z.number().int().optional(),
  data: z.looseObject({ application_id: z.string().optional(), object: z.unknown() }),
});
export type WebhookEnvelope = z.infer<typeof webhookEnvelope>;

/** The object of a thread.replied notification (reply tracking). */
export const threadReplied = z.looseObject({ grant_id: z.string(), thread_id: z.string(), message_id: z.string().optional() });

/** The object of grant.* notifications. */
export const grantEvent = z.looseObject({ grant_id: z.string(), email: z.string().nullish(), provider: z.string().nullish() });

/** The object of message.deleted. */
export const messageDeleted = z.looseObject({ id: z.string(), grant_id: z.string() });

/** A truncated message notification: no body, sometimes little else; fetched by id. */
export const messageRef = z.looseObject({ id: z.string(), grant_id: z.string() });
