import type { Queryable } from '../storage/index.ts';
import type { SourceRow } from './store.ts';

/** The statements on source_connections (the deals domain's; store.ts holds the rest). */

/** $1 deal, $2 type, $3 folder, $4 configuration json, $5 channel id, $6 channel token. */
const UPSERT_SOURCE = `insert into source_connections (deal_id, source_type, folder_id, configuration, channel_id, channel_token)
  values ($1, $2, $3, $4::text::jsonb, $5, $6)
  on conflict (deal_id, source_type) do update set folder_id = excluded.folder_id, configuration = excluded.configuration,
    is_active = true, page_token = case when source_connections.folder_id is distinct from excluded.folder_id then null else source_connections.page_token end,
    updated_at = now()
  returning *`;
export async function upsertSource(
  db: Queryable,
  s: { dealId: string; sourceType: string; folderId: string | null; configuration?: unknown; channelId?: string | null; channelToken?: string | null },
): Promise<SourceRow> {
  const [row] = await db.query<SourceRow>(UPSERT_SOURCE, [
    s.dealId, s.sourceType, s.folderId, JSON.stringify(s.configuration ?? {}), s.channelId ?? null, s.channelToken ?? null,
  ]);
  return row!;
}

/** $1 deal, $2 type. */
const ACTIVE_SOURCE = `select * from source_connections where deal_id = $1 and source_type = $2 and is_active`;
export async function activeSource(db: Queryable, dealId: string, sourceType: string): Promise<SourceRow | undefined> {
  return (await db.query<SourceRow>(ACTIVE_SOURCE, [dealId, sourceType]))[0];
}

/** $1 deal. */
const LIST_SOURCES = `select * from source_connections where deal_id = $1 order by source_type`;
export const listSources = (db: Queryable, dealId: string) => db.query<SourceRow>(LIST_SOURCES, [dealId]);

/** $1 channel token: the source a Drive push notification is about. */
const BY_CHANNEL = `select * from source_connections where channel_token = $1 and is_active`;
export async function sourceByChannel(db: Queryable, token: string): Promise<SourceRow | undefined> {
  return (await db.query<SourceRow>(BY_CHANNEL, [token]))[0];
}

/**
 * Saves the cursor after a page's documents, in the same transaction: a crash before the commit
 * replays the page, a crash after it starts from the next one. $1 id, $2 page token.
 */
const SAVE_TOKEN = `update source_connections set page_token = $2, updated_at = now() where id = $1`;
export const savePageToken = (db: Queryable, id: string, token: string) => db.query(SAVE_TOKEN, [id, token]);

/** $1 id, $2 error (null on success). */
const SYNC_DONE = `update source_connections set last_synced_at = case when $2::text is null then now() else last_synced_at end,
  last_error = $2, updated_at = now() where id = $1`;
export const markSynced = (db: Queryable, id: string, error: string | null) => db.query(SYNC_DONE, [id, error]);

/** $1 deal, $2 type, $3 error: every attempt failed. */
const SYNC_FAILED = `update source_connections set last_error = $3, updated_at = now() where deal_id = $1 and source_type = $2`;
export const markSourceFailed = (db: Queryable, dealId: string, sourceType: string, error: string) => db.query(SYNC_FAILED, [dealId, sourceType, error]);

/** After a full listing: the source's documents it did not list are gone. $1 deal, $2 type, $3 listed ids. */
const MARK_UNLISTED = `update documents set status = 'deleted', updated_at = now()
  where deal_id = $1 and source_type = $2 and source_id is not null and status <> 'deleted' and source_id <> all($3::text[]) returning id`;
export async function markUnlistedDeleted(db: Queryable, dealId: string, sourceType: string, listed: string[]): Promise<number> {
  return (await db.query(MARK_UNLISTED, [dealId, sourceType, listed])).length;
}
