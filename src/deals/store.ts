import type { Queryable } from '../storage/index.ts';

/**
 * Every SQL statement on the deals tables (deals, workstreams, documents, communications, briefs,
 * source_connections), and nowhere else. Each statement names its parameters above it.
 */

export interface DealRow {
  id: string;
  name: string;
  status: string;
  timezone: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface DocumentRow {
  id: string;
  deal_id: string;
  name: string;
  source_id: string | null;
  source_url: string | null;
  source_type: string;
  workstream_id: string | null;
  workstream: string | null;
  summary: string | null;
  status: string;
  mime_type: string | null;
  content: string | null;
  risks: unknown;
  classification: unknown;
  error: string | null;
  source_modified_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface CommunicationRow {
  id: string;
  deal_id: string;
  subject: string;
  sender: string;
  body: string | null;
  thread_id: string | null;
  message_id: string | null;
  sentiment: string | null;
  is_blocker: boolean;
  analysis: unknown;
  error: string | null;
  received_at: Date;
}

export interface BriefRow {
  id: string;
  deal_id: string;
  brief_date: string;
  progress_snapshot: unknown;
  changes: unknown;
  blockers: unknown;
  risks: unknown;
  communications: unknown;
  markdown: string | null;
  narrative: unknown;
  status: string;
  error: string | null;
  created_at: Date;
  published_at: Date | null;
}

export interface SourceRow {
  id: string;
  deal_id: string;
  source_type: string;
  folder_id: string | null;
  configuration: Record<string, unknown> | null;
  is_active: boolean;
  page_token: string | null;
  channel_id: string | null;
  channel_token: string | null;
  last_synced_at: Date | null;
  last_error: string | null;
}

// --- deals and workstreams

/** The original's default workstreams of a new deal. */
export const DEFAULT_WORKSTREAMS = ['Legal', 'HR', 'Finance', 'IT', 'Ops'] as const;

/** $1 name, $2 status, $3 timezone. */
const INSERT_DEAL = `insert into deals (name, status, timezone) values ($1, $2, $3) returning *`;
/** $1 deal id, $2 names. */
const INSERT_WORKSTREAMS = `insert into workstreams (deal_id, name) select $1, unnest($2::text[]) on conflict do nothing`;

export async function insertDeal(db: Queryable, deal: { name: string; status?: string; timezone?: string | null }): Promise<DealRow> {
  const [row] = await db.query<DealRow>(INSERT_DEAL, [deal.name, deal.status ?? 'active', deal.timezone ?? null]);
  await db.query(INSERT_WORKSTREAMS, [row!.id, DEFAULT_WORKSTREAMS]);
  return row!;
}

/** $1 limit. */
const LIST_DEALS = `select * from deals order by created_at desc, id limit $1`;
export const listDeals = (db: Queryable, limit = 200) => db.query<DealRow>(LIST_DEALS, [limit]);

/** $1 id. */
const GET_DEAL = `select * from deals where id = $1`;
export async function getDeal(db: Queryable, id: string): Promise<DealRow | undefined> {
  return (await db.query<DealRow>(GET_DEAL, [id]))[0];
}

/** No parameters: the deals the cron briefs. */
const ACTIVE_DEALS = `select id, name, timezone from deals where status = 'active' order by id`;
export const activeDeals = (db: Queryable) => db.query<Pick<DealRow, 'id' | 'name' | 'timezone'>>(ACTIVE_DEALS);

/** $1 deal id. */
const WORKSTREAMS = `select id, name from workstreams where deal_id = $1 order by name`;
export const workstreams = (db: Queryable, dealId: string) => db.query<{ id: string; name: string }>(WORKSTREAMS, [dealId]);

// --- documents

// Every column but the file bytes, which only fileData() reads.
const DOCUMENT_COLUMNS = `d.id, d.deal_id, d.name, d.source_id, d.source_url, d.source_type, d.workstream_id, d.summary, d.status, d.mime_type,
  d.content, d.source_modified_at, d.risks, d.classification, d.error, d.failed_at, d.last_ingested_at, d.created_at, d.updated_at,
  w.name as workstream`;

/** $1 id. */
const GET_DOCUMENT = `select ${DOCUMENT_COLUMNS} from documents d left join workstreams w on w.id = d.workstream_id where d.id = $1`;
export async function getDocument(db: Queryable, id: string): Promise<DocumentRow | undefined> {
  return (await db.query<DocumentRow>(GET_DOCUMENT, [id]))[0];
}

/** $1 deal id, $2 limit. */
const LIST_DOCUMENTS = `select ${DOCUMENT_COLUMNS} from documents d left join workstreams w on w.id = d.workstream_id
  where d.deal_id = $1 order by d.updated_at desc, d.id limit $2`;
export const listDocuments = (db: Queryable, dealId: string, limit = 500) => db.query<DocumentRow>(LIST_DOCUMENTS, [dealId, limit]);

export interface NewDocument {
  dealId: string;
  name: string;
  sourceType: string;
  sourceId?: string | null;
  sourceUrl?: string | null;
  mimeType?: string | null;
  content?: string | null;
  fileData?: Uint8Array | null;
  sourceModifiedAt?: Date | null;
}

/** $1 deal, $2 name, $3 source type, $4 source id, $5 url, $6 mime, $7 content, $8 modified at, $9 file bytes. */
const INSERT_DOCUMENT = `insert into documents (deal_id, name, source_type, source_id, source_url, mime_type, content, source_modified_at, file_data, last_ingested_at)
  values ($1, $2, $3, $4, $5, $6, $7, $8, $9, now()) returning id`;
export async function insertDocument(db: Queryable, d: NewDocument): Promise<string> {
  const [row] = await db.query<{ id: string }>(INSERT_DOCUMENT, [
    d.dealId, d.name, d.sourceType, d.sourceId ?? null, d.sourceUrl ?? null, d.mimeType ?? null, d.content ?? null, d.sourceModifiedAt ?? null,
    d.fileData ? Buffer.from(d.fileData) : null,
  ]);
  return row!.id;
}

/** $1 id: the stored file of a document whose text was not read yet. */
const FILE_DATA = `select file_data from documents where id = $1`;
export async function fileData(db: Queryable, id: string): Promise<Uint8Array | null> {
  const [row] = await db.query<{ file_data: Uint8Array | null }>(FILE_DATA, [id]);
  return row?.file_data ?? null;
}

/** The text is read once; the file is dropped then (the source keeps the original). $1 id, $2 text. */
const SAVE_CONTENT = `update documents set content = $2, file_data = null where id = $1`;
export const saveContent = (db: Queryable, id: string, content: string) => db.query(SAVE_CONTENT, [id, content]);

/**
 * A file seen by a sync: inserted when new, updated when its source time moved (only then is it
 * returned as changed). Keyed on the unique (deal, source type, source id), so two syncs at once
 * cannot insert it twice. A reviewed document that changes becomes `updated` again.
 * $1 deal, $2 name, $3 source type, $4 source id, $5 url, $6 mime, $7 content, $8 modified at.
 */
const UPSERT_SYNCED = `insert into documents as d (deal_id, name, source_type, source_id, source_url, mime_type, content, source_modified_at, last_ingested_at)
  values ($1, $2, $3, $4, $5, $6, $7, $8, now())
  on conflict (deal_id, source_type, source_id) where source_id is not null do update
    set name = excluded.name, source_url = excluded.source_url, mime_type = excluded.mime_type, content = excluded.content,
        source_modified_at = excluded.source_modified_at, status = 'updated', last_ingested_at = now(), updated_at = now()
    where d.source_modified_at is distinct from excluded.source_modified_at or d.status = 'deleted'
  returning id, (xmax = 0) as inserted`;
export async function upsertSyncedDocument(db: Queryable, d: NewDocument): Promise<{ id: string; inserted: boolean } | undefined> {
  const [row] = await db.query<{ id: string; inserted: boolean }>(UPSERT_SYNCED, [
    d.dealId, d.name, d.sourceType, d.sourceId ?? null, d.sourceUrl ?? null, d.mimeType ?? null, d.content ?? null, d.sourceModifiedAt ?? null,
  ]);
  return row;
}

/** A file of a sync page, for the batch upsert. */
export interface SyncedFile {
  sourceId: string;
  name: string;
  sourceUrl: string | null;
  mimeType: string | null;
  sourceModifiedAt: Date | null;
}

/**
 * A sync page's files in one statement, with upsertSyncedDocument's rules (new: inserted;
 * changed source time or deleted: updated; else untouched and not returned). Each source id at
 * most once per call (the caller keeps the page's last state of each file).
 * $1 deal, $2 source type, $3 source ids, $4 names, $5 urls, $6 mime types, $7 modified at (ISO text:
 * drivers differ in how they send an array of dates).
 */
const UPSERT_SYNCED_BATCH = `insert into documents as d (deal_id, name, source_type, source_id, source_url, mime_type, source_modified_at, last_ingested_at)
  select $1, f.name, $2, f.source_id, f.url, f.mime, f.modified::timestamptz, now()
  from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) as f (source_id, name, url, mime, modified)
  on conflict (deal_id, source_type, source_id) where source_id is not null do update
    set name = excluded.name, source_url = excluded.source_url, mime_type = excluded.mime_type, content = null,
        source_modified_at = excluded.source_modified_at, status = 'updated', last_ingested_at = now(), updated_at = now()
    where d.source_modified_at is distinct from excluded.source_modified_at or d.status = 'deleted'
  returning id, (xmax = 0) as inserted`;
export function upsertSyncedBatch(db: Queryable, dealId: string, sourceType: string, files: SyncedFile[]) {
  if (!files.length) return Promise.resolve([]);
  return db.query<{ id: string; inserted: boolean }>(UPSERT_SYNCED_BATCH, [
    dealId, sourceType, files.map((f) => f.sourceId), files.map((f) => f.name), files.map((f) => f.sourceUrl),
    files.map((f) => f.mimeType), files.map((f) => f.sourceModifiedAt?.toISOString() ?? null),
  ]);
}

/** $1 deal, $2 source type, $3 source ids: those still live become deleted (rows kept). */
const MARK_DELETED_BATCH = `update documents set status = 'deleted', updated_at = now()
  where deal_id = $1 and source_type = $2 and source_id = any($3::text[]) and status <> 'deleted' returning id`;
export async function markDeletedBatch(db: Queryable, dealId: string, sourceType: string, sourceIds: string[]): Promise<number> {
  if (!sourceIds.length) return 0;
  return (await db.query(MARK_DELETED_BATCH, [dealId, sourceType, sourceIds])).length;
}

/** $1 deal, $2 source type, $3 source id. */
const MARK_DELETED = `update documents set status = 'deleted', updated_at = now()
  where deal_id = $1 and source_type = $2 and source_id = $3 and status <> 'deleted' returning id`;
export async function markDocumentDeleted(db: Queryable, dealId: string, sourceType: string, sourceId: string): Promise<boolean> {
  return (await db.query(MARK_DELETED, [dealId, sourceType, sourceId])).length > 0;
}

/** $1 id, $2 summary. */
const SAVE_SUMMARY = `update documents set summary = $2, error = null, failed_at = null, updated_at = now() where id = $1`;
export const saveSummary = (db: Queryable, id: string, summary: string) => db.query(SAVE_SUMMARY, [id, summary]);

/** $1 id, $2 risks json. */
const SAVE_RISKS = `update documents set risks = $2::text::jsonb, error = null, failed_at = null, updated_at = now() where id = $1`;
export const saveRisks = (db: Queryable, id: string, risks: unknown) => db.query(SAVE_RISKS, [id, JSON.stringify(risks)]);

/**
 * Sets the workstream by name, creating it when the deal lacks it (the original never did).
 * $1 id, $2 classification json, $3 workstream name.
 */
const SAVE_CLASSIFICATION = `with ws as (
    insert into workstreams (deal_id, name) select deal_id, $3 from documents where id = $1
    on conflict (deal_id, name) do update set name = excluded.name returning id)
  update documents set classification = $2::text::jsonb, workstream_id = (select id from ws), error = null, failed_at = null, updated_at = now()
  where id = $1`;
export const saveClassification = (db: Queryable, id: string, classification: unknown, workstream: string) =>
  db.query(SAVE_CLASSIFICATION, [id, JSON.stringify(classification), workstream]);

/** $1 id, $2 error. */
const DOCUMENT_FAILED = `update documents set error = $2, failed_at = now() where id = $1`;
export const markDocumentFailed = (db: Queryable, id: string, error: string) => db.query(DOCUMENT_FAILED, [id, error]);

// --- communications

export interface NewCommunication {
  dealId: string;
  subject: string;
  sender: string;
  body?: string | null;
  threadId?: string | null;
  sourceType?: string | null;
  sourceId?: string | null;
  messageId?: string | null;
  receivedAt: Date;
}

/** $1 deal, $2 subject, $3 sender, $4 body, $5 thread, $6 source type, $7 source id, $8 message id, $9 received at. */
const INSERT_COMMUNICATION = `insert into communications (deal_id, subject, sender, body, thread_id, source_type, source_id, message_id, received_at)
  values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id`;
export async function insertCommunication(db: Queryable, c: NewCommunication): Promise<string> {
  const [row] = await db.query<{ id: string }>(INSERT_COMMUNICATION, [
    c.dealId, c.subject, c.sender, c.body ?? null, c.threadId ?? null, c.sourceType ?? null, c.sourceId ?? null, c.messageId ?? null, c.receivedAt,
  ]);
  return row!.id;
}

/**
 * A mail seen by a sync: inserted once per deal, source type and provider message id (the id is
 * returned only then). $1 deal, $2 subject, $3 sender, $4 recipients, $5 body, $6 thread,
 * $7 source type, $8 source id, $9 message id, $10 received at.
 */
const INSERT_SYNCED_COMMUNICATION = `insert into communications (deal_id, subject, sender, recipients, body, thread_id, source_type, source_id, message_id, received_at)
  values ($1, $2, $3, $4::text[], $5, $6, $7, $8, $9, $10)
  on conflict (deal_id, source_type, source_id) where source_id is not null do nothing
  returning id`;
export async function insertSyncedCommunication(db: Queryable, c: NewCommunication & { recipients: string[] }): Promise<string | undefined> {
  const [row] = await db.query<{ id: string }>(INSERT_SYNCED_COMMUNICATION, [
    c.dealId, c.subject, c.sender, c.recipients, c.body ?? null, c.threadId ?? null, c.sourceType ?? null, c.sourceId ?? null, c.messageId ?? null, c.receivedAt,
  ]);
  return row?.id;
}

/** $1 id. */
const GET_COMMUNICATION = `select * from communications where id = $1`;
export async function getCommunication(db: Queryable, id: string): Promise<CommunicationRow | undefined> {
  return (await db.query<CommunicationRow>(GET_COMMUNICATION, [id]))[0];
}

/** $1 deal id, $2 thread id: the thread within its own deal (the original read every deal's). */
const THREAD = `select * from communications where deal_id = $1 and thread_id = $2 order by received_at`;
export const threadOf = (db: Queryable, dealId: string, threadId: string) => db.query<CommunicationRow>(THREAD, [dealId, threadId]);

/** $1 id, $2 sentiment, $3 is blocker, $4 analysis json. */
const SAVE_ANALYSIS = `update communications set sentiment = $2, is_blocker = $3, analysis = $4::text::jsonb, error = null, updated_at = now() where id = $1`;
export const saveEmailAnalysis = (db: Queryable, id: string, sentiment: string, isBlocker: boolean, analysis: unknown) =>
  db.query(SAVE_ANALYSIS, [id, sentiment, isBlocker, JSON.stringify(analysis)]);

/** $1 id, $2 error. */
const EMAIL_FAILED = `update communications set error = $2, updated_at = now() where id = $1`;
export const markEmailFailed = (db: Queryable, id: string, error: string) => db.query(EMAIL_FAILED, [id, error]);

/** $1 deal id, $2 limit. */
const LIST_COMMUNICATIONS = `select * from communications where deal_id = $1 order by received_at desc limit $2`;
export const listCommunications = (db: Queryable, dealId: string, limit = 200) => db.query<CommunicationRow>(LIST_COMMUNICATIONS, [dealId, limit]);

// --- briefs

/** $1 deal id, $2 brief date: the latest brief before that day (the original could pick today's). */
const PREVIOUS_BRIEF = `select * from briefs where deal_id = $1 and brief_date < $2::date and status = 'published' order by brief_date desc limit 1`;
export async function previousBrief(db: Queryable, dealId: string, date: string): Promise<BriefRow | undefined> {
  return (await db.query<BriefRow>(PREVIOUS_BRIEF, [dealId, date]))[0];
}

export interface BriefSections {
  /** The LLM's headline and summary; absent or null with the builtin analyzer. */
  narrative?: unknown;
  progress_snapshot: unknown;
  changes: unknown;
  blockers: unknown;
  risks: unknown;
  communications: unknown;
  markdown: string;
}

/** Regenerating a day replaces that day's brief. $1 deal, $2 date, $3..$7 sections, $8 markdown, $9 narrative. */
const UPSERT_BRIEF = `insert into briefs (deal_id, brief_date, progress_snapshot, changes, blockers, risks, communications, markdown, narrative, status, published_at)
  values ($1, $2::date, $3::text::jsonb, $4::text::jsonb, $5::text::jsonb, $6::text::jsonb, $7::text::jsonb, $8, $9::text::jsonb, 'published', now())
  on conflict (deal_id, brief_date) do update set progress_snapshot = excluded.progress_snapshot, changes = excluded.changes, narrative = excluded.narrative,
    blockers = excluded.blockers, risks = excluded.risks, communications = excluded.communications, markdown = excluded.markdown,
    status = 'published', error = null, published_at = now()
  returning id`;
export async function upsertBrief(db: Queryable, dealId: string, date: string, s: BriefSections): Promise<string> {
  const json = (v: unknown) => JSON.stringify(v);
  const [row] = await db.query<{ id: string }>(UPSERT_BRIEF, [
    dealId, date, json(s.progress_snapshot), json(s.changes), json(s.blockers), json(s.risks), json(s.communications), s.markdown, s.narrative == null ? null : json(s.narrative),
  ]);
  return row!.id;
}

/** A failed day keeps a published brief's content and only notes the error. $1 deal, $2 date, $3 error. */
const BRIEF_FAILED = `insert into briefs (deal_id, brief_date, status, error) values ($1, $2::date, 'failed', $3)
  on conflict (deal_id, brief_date) do update
    set error = excluded.error, status = case when briefs.status = 'published' then briefs.status else 'failed' end`;
export const markBriefFailed = (db: Queryable, dealId: string, date: string, error: string) => db.query(BRIEF_FAILED, [dealId, date, error]);

const BRIEF_COLUMNS = `id, deal_id, to_char(brief_date, 'YYYY-MM-DD') as brief_date, progress_snapshot, changes, blockers, risks,
  communications, markdown, narrative, status, error, created_at, published_at`;
/** $1 deal id, $2 limit. */
const LIST_BRIEFS = `select ${BRIEF_COLUMNS} from briefs where deal_id = $1 order by brief_date desc limit $2`;
export const listBriefs = (db: Queryable, dealId: string, limit = 60) => db.query<BriefRow>(LIST_BRIEFS, [dealId, limit]);

/** $1 deal id, $2 date. */
const GET_BRIEF = `select ${BRIEF_COLUMNS} from briefs where deal_id = $1 and brief_date = $2::date`;
export async function getBrief(db: Queryable, dealId: string, date: string): Promise<BriefRow | undefined> {
  return (await db.query<BriefRow>(GET_BRIEF, [dealId, date]))[0];
}
