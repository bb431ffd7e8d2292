import { ProviderError } from '../../runtime/outbound.ts';
import type { JobContext } from '../../runtime/domain.ts';
import type { DealsDeps } from '../deps.ts';
import type { SourceSyncJob } from '../queues.ts';
import * as sources from '../sources-store.ts';
import * as store from '../store.ts';
import type { SourceRow } from '../store.ts';
import { queueAnalyses, type SyncResult } from '../sync-result.ts';
import type { GraphItem } from './client.ts';

/**
 * SharePoint / OneDrive sync by Microsoft Graph's drive delta. The source's folder_id is the drive
 * id; configuration.folderPath, when set, keeps the files below that folder only.
 *
 * The cursor is the link Graph gave last (@odata.nextLink mid-way, @odata.deltaLink at the end),
 * saved with each page's documents and analysis jobs in one transaction: a crash replays at most
 * the page in flight, whose files are then unchanged (same lastModifiedDateTime) and queue nothing
 * again. `full` (or no cursor yet) enumerates the drive from the start, and marks the documents it
 * did not list as deleted; a 410 resyncRequired (an expired token) does the same, once.
 * Deleted items (the `deleted` facet) mark their documents deleted: the rows and their analyses stay.
 */
export async function graphSync(source: SourceRow, job: SourceSyncJob, ctx: JobContext<SourceSyncJob, DealsDeps>): Promise<SyncResult> {
  const { sql } = ctx.services;
  const graph = ctx.deps.graph.client();
  if (!source.folder_id) throw new Error('the sharepoint source has no drive id (folderId)');
  const driveId = source.folder_id;
  const folderPath = typeof source.configuration?.folderPath === 'string' ? source.configuration.folderPath.replace(/^\/+|\/+$/g, '') : '';
  const prefix = `/drives/${driveId}/root:${folderPath ? `/${folderPath}` : ''}`;
  const inFolder = (item: GraphItem) => !folderPath || (item.parentReference?.path ?? '').startsWith(prefix)
    && [undefined, '/'].includes((item.parentReference?.path ?? '')[prefix.length]);
  const r: SyncResult = { synced: 0, newDocuments: 0, updatedDocuments: 0, deletedDocuments: 0, filesScanned: 0, pages: 0 };

  let link = job.syncType === 'full' || !source.page_token ? graph.startLink(driveId) : source.page_token;
  // Only an enumeration this run began knows every live file: it alone may mark the rest deleted.
  let listed: Set<string> | undefined = link === graph.startLink(driveId) ? new Set() : undefined;
  let resynced = false;
  for (;;) {
    let page;
    try {
      page = await graph.delta(source.id, link, ctx.signal);
    } catch (err) {
      if (err instanceof ProviderError && err.status === 410 && !resynced) {
        resynced = true;
        link = graph.startLink(driveId);
        listed = new Set();
        continue;
      }
      throw err;
    }
    const next = page['@odata.nextLink'] ?? page['@odata.deltaLink'];
    if (!next) throw new Error('graph delta page carried neither @odata.nextLink nor @odata.deltaLink');
    // The page's last state of each item (Graph may send one item more than once), then two
    // statements: the files upserted, the deleted ones marked.
    // null: deleted (or moved out of the folder); undefined: neither a file nor deleted.
    const last = new Map<string, GraphItem | null | undefined>();
    for (const item of page.value) {
      if (!item.folder) last.set(item.id, item.deleted || !inFolder(item) ? null : item.file ? item : undefined);
    }
    const files: store.SyncedFile[] = [];
    const gone: string[] = [];
    for (const [id, item] of last) {
      if (item === null) gone.push(id);
      else if (item) {
        listed?.add(id);
        files.push({
          sourceId: id, name: item.name ?? id, sourceUrl: item.webUrl ?? null, mimeType: item.file?.mimeType ?? null,
          sourceModifiedAt: item.lastModifiedDateTime ? new Date(item.lastModifiedDateTime) : null,
        });
      }
    }
    await sql.transaction(async (tx) => {
      const rows = await store.upsertSyncedBatch(tx, source.deal_id, 'sharepoint', files);
      for (const row of rows) row.inserted ? r.newDocuments++ : r.updatedDocuments++;
      r.synced += rows.length;
      r.deletedDocuments += await store.markDeletedBatch(tx, source.deal_id, 'sharepoint', gone);
      await queueAnalyses(ctx.services.queue, tx, source.deal_id, rows.map((row) => row.id));
      if (!page['@odata.nextLink'] && listed) r.deletedDocuments += await sources.markUnlistedDeleted(tx, source.deal_id, 'sharepoint', [...listed]);
      await sources.savePageToken(tx, source.id, next);
    });
    r.filesScanned += page.value.length;
    r.pages++;
    if (!page['@odata.nextLink']) return r;
    link = next;
    await ctx.progress({ pages: r.pages, filesScanned: r.filesScanned });
  }
}
