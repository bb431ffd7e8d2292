import type { QueueClient } from '../queue/queue.ts';
import type { Queryable } from '../storage/index.ts';
import { DOCUMENT_OPERATIONS, queueDocumentBatch } from './queues.ts';

/** What a source sync did (the job's result). */
export interface SyncResult {
  synced: number;
  newDocuments: number;
  updatedDocuments: number;
  deletedDocuments: number;
  filesScanned: number;
  pages: number;
  newEmails?: number;
  skipped?: string;
}

/**
 * Queues the analyses of a page's new and changed documents in one statement, in the page's
 * transaction: all three (the original queued only summarize, so risks and workstreams never came).
 */
export async function queueAnalyses(queue: QueueClient, tx: Queryable, dealId: string, changed: string[]): Promise<void> {
  // A file changed twice within one page is analysed once.
  await queueDocumentBatch(queue, [...new Set(changed)].flatMap((documentId) => DOCUMENT_OPERATIONS.map((operation) => ({ documentId, dealId, operation }))), tx);
}
