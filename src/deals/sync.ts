import { toJobControl } from '../runtime/outbound.ts';
import type { Job } from '../queue/types.ts';
import type { DeadContext, JobContext } from '../runtime/domain.ts';
import type { Queryable } from '../storage/index.ts';
import type { DealsDeps } from './deps.ts';
import type { DriveFile } from './gdrive/client.ts';
import { isUuid } from './ids.ts';
import { graphSync } from './graph/sync.ts';
import { mailSync } from './mail-sync.ts';
import type { SourceSyncJob } from './queues.ts';
import { queueAnalyses, type SyncResult } from './sync-result.ts';
import * as sources from './sources-store.ts';
import * as store from './store.ts';
import type { SourceRow } from './store.ts';

/** Files per Drive page (Drive allows up to 1000 for changes). */
const PAGE_SIZE = 1000;


/**
 * source-sync. Google Drive: `incremental` follows the changes feed from the saved page token,
 * `full` lists the folder (and is what an incremental run does when no token was saved yet).
 * Each page commits its documents, their summarize jobs and the next token together, so a crash
 * replays at most the page in flight: no change is missed, none is applied twice. Other source
 * types are not built yet and succeed with nothing synced, as the original does without a source.
 */
export async function syncSource(job: SourceSyncJob, ctx: JobContext<SourceSyncJob, DealsDeps>): Promise<unknown> {
  const { sql } = ctx.services;
  const source = await sources.activeSource(sql, job.dealId, job.sourceType);
  const empty: SyncResult = { synced: 0, newDocuments: 0, updatedDocuments: 0, deletedDocuments: 0, filesScanned: 0, pages: 0 };
  if (!source) return { ...empty, skipped: 'no active source connection' };
  await ctx.progress(10);
  try {
    let result: SyncResult;
    if (job.sourceType === 'sharepoint') result = await graphSync(source, job, ctx);
    else if (job.sourceType === 'gdrive') result = job.syncType === 'full' || !source.page_token ? await fullSync(source, ctx) : await incrementalSync(source, source.page_token, ctx);
    else result = await mailSync(source, job, ctx);
    await sources.markSynced(sql, source.id, null);
    await ctx.progress(100);
    return result;
  } catch (err) {
    throw toJobControl(err);
  }
}

/** Upserts one file; a new or changed one joins `changed`, whose analyses the page queues. */
async function applyFile(tx: Queryable, source: SourceRow, file: DriveFile, changed: string[], r: SyncResult): Promise<void> {
  const row = await store.upsertSyncedDocument(tx, {
    dealId: source.deal_id, name: file.name, sourceType: 'gdrive', sourceId: file.id, sourceUrl: file.webViewLink ?? null,
    mimeType: file.mimeType, sourceModifiedAt: new Date(file.modifiedTime),
  });
  if (!row) return; // Unchanged: the same modifiedTime as stored.
  if (row.inserted) r.newDocuments++;
  else r.updatedDocuments++;
  r.synced++;
  changed.push(row.id);
}


async function fullSync(source: SourceRow, ctx: JobContext<SourceSyncJob, DealsDeps>): Promise<SyncResult> {
  const { sql } = ctx.services;
  const drive = ctx.deps.drive.client();
  const r: SyncResult = { synced: 0, newDocuments: 0, updatedDocuments: 0, deletedDocuments: 0, filesScanned: 0, pages: 0 };
  // The token is taken before listing: changes made during the listing are replayed by the next
  // incremental run, and applying a file twice is a no-op (same modifiedTime).
  const token = await drive.startPageToken(source.id, ctx.signal);
  const listed: string[] = [];
  let pageToken: string | undefined;
  do {
    const page = await drive.listFolder(source.id, source.folder_id ?? 'root', pageToken, PAGE_SIZE, ctx.signal);
    await sql.transaction(async (tx) => {
      const changed: string[] = [];
      for (const file of page.files) await applyFile(tx, source, file, changed, r);
      await queueAnalyses(ctx.services.queue, tx, source.deal_id, changed);
    });
    listed.push(...page.files.map((f) => f.id));
    r.filesScanned += page.files.length;
    r.pages++;
    pageToken = page.nextPageToken;
  } while (pageToken);
  await sql.transaction(async (tx) => {
    r.deletedDocuments = await sources.markUnlistedDeleted(tx, source.deal_id, 'gdrive', listed);
    await sources.savePageToken(tx, source.id, token);
  });
  return r;
}

async function incrementalSync(source: SourceRow, from: string, ctx: JobContext<SourceSyncJob, DealsDeps>): Promise<SyncResult> {
  const { sql } = ctx.services;
  const drive = ctx.deps.drive.client();
  const r: SyncResult = { synced: 0, newDocuments: 0, updatedDocuments: 0, deletedDocuments: 0, filesScanned: 0, pages: 0 };
  const folder = source.folder_id ?? 'root';
  let token = from;
  for (;;) {
    const page = await drive.changes(source.id, token, PAGE_SIZE, ctx.signal);
    const next = page.nextPageToken ?? page.newStartPageToken;
    if (!next) throw new Error('gdrive changes page carried neither nextPageToken nor newStartPageToken');
    await sql.transaction(async (tx) => {
      const changed: string[] = [];
      for (const change of page.changes) {
        const file = change.file;
        // Removed, trashed, or moved out of the folder: the document is gone for this deal.
        if (change.removed || !file || file.trashed || !(file.parents ?? []).includes(folder)) {
          if (await store.markDocumentDeleted(tx, source.deal_id, 'gdrive', change.fileId)) r.deletedDocuments++;
          continue;
        }
        await applyFile(tx, source, file, changed, r);
      }
      await queueAnalyses(ctx.services.queue, tx, source.deal_id, changed);
      await sources.savePageToken(tx, source.id, next);
    });
    r.filesScanned += page.changes.length;
    r.pages++;
    token = next;
    if (!page.nextPageToken) return r;
    await ctx.progress({ pages: r.pages, filesScanned: r.filesScanned });
  }
}

/** Every attempt failed: the source connection says why. */
export async function onSyncDead(job: Job<unknown>, ctx: DeadContext<DealsDeps>): Promise<void> {
  const p = job.payload as Partial<SourceSyncJob>;
  if (!isUuid(p?.dealId) || typeof p.sourceType !== 'string') return;
  await sources.markSourceFailed(ctx.tx, p.dealId, p.sourceType, ctx.error.message.slice(0, 2000));
}
