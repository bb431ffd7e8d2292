import { z } from 'zod';
import type { Queryable } from '../storage/index.ts';
import type { ExtractionRecord } from './schema.ts';

/**
 * Every statement of the extraction domain: email_extractions (owned here) and the reads of
 * flux_email_messages it needs. Messages are only read, never written: the email domain owns them.
 */

/** A message as the extractor sees it. */
export interface MessageForExtraction {
  id: string;
  subject: string | null;
  body: string | null;
  snippet: string | null;
  from: Participant[];
  to: Participant[];
  cc: Participant[];
  date: Date | null;
  deleted: boolean;
}

const participants = z
  .array(z.object({ name: z.string().nullish(), email: z.string().nullish() }))
  .catch([])
  .transform((list) => list.filter((p) => p.email).map((p) => ({ name: p.name ?? null, email: p.email! })));
export type Participant = { name: string | null; email: string };

interface MessageRow {
  id: string;
  subject: string | null;
  body: string | null;
  snippet: string | null;
  from_participants: unknown;
  to_participants: unknown;
  cc_participants: unknown;
  date: Date | null;
  deleted_at: Date | null;
}

const MESSAGE_COLUMNS = `id, subject, body, snippet, from_participants, to_participants, cc_participants, date, deleted_at`;

/** $1 message id (uuid). */
const GET_MESSAGE = `select ${MESSAGE_COLUMNS} from flux_email_messages where id = $1`;

/** $1 an id as the user typed it: Nova's uuid or the provider's message id. */
const FIND_MESSAGE = `
  select ${MESSAGE_COLUMNS} from flux_email_messages
  where id::text = $1 or nylas_message_id = $1
  order by (id::text = $1) desc limit 1`;

export async function getMessage(db: Queryable, id: string): Promise<MessageForExtraction | undefined> {
  const [row] = await db.query<MessageRow>(GET_MESSAGE, [id]);
  return row && toMessage(row);
}

/** Finds a message by Nova id or Nylas message id (for the CLI). */
export async function findMessage(db: Queryable, idOrProviderId: string): Promise<MessageForExtraction | undefined> {
  const [row] = await db.query<MessageRow>(FIND_MESSAGE, [idOrProviderId]);
  return row && toMessage(row);
}

function toMessage(row: MessageRow): MessageForExtraction {
  return {
    id: row.id,
    subject: row.subject,
    body: row.body,
    snippet: row.snippet,
    from: participants.parse(row.from_participants),
    to: participants.parse(row.to_participants),
    cc: participants.parse(row.cc_participants),
    date: row.date,
    deleted: row.deleted_at !== null,
  };
}

/**
 * $1 schema version, $2 limit: live messages with no row at this version (never extracted, or
 * extracted under an older schema), oldest inbox activity first.
 *
 * The anti-join walks every message once per run; at the volumes of one Nova database (millions
 * of rows) that is a few hundred milliseconds every interval on one process. A watermark on
 * created_at would be cheaper but misses backfilled messages and version bumps.
 */
const FIND_UNQUEUED = `
  select m.id from flux_email_messages m
  where m.deleted_at is null
    and not exists (select 1 from email_extractions e where e.message_id = m.id and e.schema_version = $1)
  order by coalesce(m.date, m.created_at), m.id
  limit $2`;

/** $1 uuid[] message ids, $2 schema version: claims them as queued; returns those it inserted. */
const INSERT_QUEUED = `
  insert into email_extractions (message_id, schema_version, status)
  select id, $2, 'queued' from unnest($1::uuid[]) as t(id)
  on conflict (message_id, schema_version) do nothing
  returning message_id`;

/**
 * $1 schema version, $2 older than (ms), $3 limit: rows queued long ago whose job may be gone
 * (dead-lettered by a worker of another version, say). Touches them so the next run waits again.
 */
const TOUCH_STALE_QUEUED = `
  update email_extractions set queued_at = now(), updated_at = now()
  where (message_id, schema_version) in (
    select message_id, schema_version from email_extractions
    where status = 'queued' and schema_version = $1
      and queued_at < now() - make_interval(secs => $2::float8 / 1000)
    order by queued_at limit $3)
  returning message_id`;

export async function findUnqueued(db: Queryable, schemaVersion: number, limit: number): Promise<string[]> {
  return (await db.query<{ id: string }>(FIND_UNQUEUED, [schemaVersion, limit])).map((r) => r.id);
}

export async function insertQueued(db: Queryable, messageIds: readonly string[], schemaVersion: number): Promise<Set<string>> {
  const rows = await db.query<{ message_id: string }>(INSERT_QUEUED, [messageIds, schemaVersion]);
  return new Set(rows.map((r) => r.message_id));
}

export async function touchStaleQueued(db: Queryable, schemaVersion: number, olderThanMs: number, limit: number): Promise<string[]> {
  return (await db.query<{ message_id: string }>(TOUCH_STALE_QUEUED, [schemaVersion, olderThanMs, limit])).map((r) => r.message_id);
}

/** The outcome of one extraction, as stored. */
export type StoredOutcome =
  | { status: 'succeeded'; result: ExtractionRecord; calls: number; durationMs: number }
  | {
      status: 'failed';
      error: string;
      rawOutput: string | null;
      provider: string;
      model: string;
      promptVersion: string | null;
      inputTokens: number;
      outputTokens: number;
      calls: number;
      durationMs: number;
    }
  | { status: 'skipped'; error: string };

/**
 * $1 message id, $2 schema version, then the outcome's columns. Re-running for the same message
 * and version replaces the row: one row per (message, version), whatever the number of runs.
 */
const SAVE_OUTCOME = `
  insert into email_extractions as e (message_id, schema_version, status, result, raw_output, error,
    provider, model, prompt_version, input_tokens, output_tokens, calls, duration_ms, extracted_at)
  values ($1, $2, $3, $4::text::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
  on conflict (message_id, schema_version) do update set
    status = excluded.status, result = excluded.result, raw_output = excluded.raw_output,
    error = excluded.error, provider = excluded.provider, model = excluded.model,
    prompt_version = excluded.prompt_version, input_tokens = excluded.input_tokens,
    output_tokens = excluded.output_tokens, calls = e.calls + excluded.calls,
    duration_ms = excluded.duration_ms, extracted_at = now(), updated_at = now()`;

export async function saveOutcome(db: Queryable, messageId: string, schemaVersion: number, o: StoredOutcome): Promise<void> {
  const m = o.status === 'succeeded' ? o.result.meta : undefined;
  await db.query(SAVE_OUTCOME, [
    messageId, schemaVersion, o.status,
    o.status === 'succeeded' ? JSON.stringify(o.result) : null,
    o.status === 'failed' ? o.rawOutput : null,
    o.status === 'succeeded' ? null : o.error,
    m?.provider ?? (o.status === 'failed' ? o.provider : null),
    m?.model ?? (o.status === 'failed' ? o.model : null),
    m?.promptVersion ?? (o.status === 'failed' ? o.promptVersion : null),
    m?.usage.inputTokens ?? (o.status === 'failed' ? o.inputTokens : null),
    m?.usage.outputTokens ?? (o.status === 'failed' ? o.outputTokens : null),
    o.status === 'skipped' ? 0 : o.calls,
    o.status === 'skipped' ? null : o.durationMs,
  ]);
}

export interface ExtractionRow {
  message_id: string;
  schema_version: number;
  status: 'queued' | 'succeeded' | 'failed' | 'skipped';
  result: ExtractionRecord | null;
  raw_output: string | null;
  error: string | null;
  provider: string | null;
  model: string | null;
  prompt_version: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  calls: number;
  duration_ms: number | null;
  queued_at: Date;
  extracted_at: Date | null;
}

/** $1 message id: every version's row, newest version first. */
const LIST_FOR_MESSAGE = `
  select message_id, schema_version, status, result, raw_output, error, provider, model, prompt_version,
         input_tokens, output_tokens, calls, duration_ms, queued_at, extracted_at
  from email_extractions where message_id = $1 order by schema_version desc`;

export async function listExtractions(db: Queryable, messageId: string): Promise<ExtractionRow[]> {
  return db.query<ExtractionRow>(LIST_FOR_MESSAGE, [messageId]);
}

/** $1 message id. */
const MESSAGE_EXISTS = `select exists (select 1 from flux_email_messages where id = $1) as found`;

export async function messageExists(db: Queryable, messageId: string): Promise<boolean> {
  const [row] = await db.query<{ found: boolean }>(MESSAGE_EXISTS, [messageId]);
  return row?.found ?? false;
}
