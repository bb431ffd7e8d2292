import type { BriefRow, CommunicationRow, DealRow, DocumentRow, SourceRow } from './store.ts';

/** The deals rows as the API answers them: camelCase, no file bytes, no channel secrets. */
export const present = {
  deal: (d: DealRow) => ({ id: d.id, name: d.name, status: d.status, timezone: d.timezone, createdAt: d.created_at, updatedAt: d.updated_at }),
  document: (d: DocumentRow) => ({
    id: d.id, dealId: d.deal_id, name: d.name, sourceType: d.source_type, sourceId: d.source_id, sourceUrl: d.source_url,
    workstream: d.workstream, status: d.status, mimeType: d.mime_type, summary: d.summary, risks: d.risks, classification: d.classification,
    error: d.error, hasText: d.content !== null, sourceModifiedAt: d.source_modified_at, createdAt: d.created_at, updatedAt: d.updated_at,
  }),
  communication: (c: CommunicationRow) => ({
    id: c.id, dealId: c.deal_id, subject: c.subject, sender: c.sender, threadId: c.thread_id, messageId: c.message_id,
    sentiment: c.sentiment, isBlocker: c.is_blocker, analysis: c.analysis, error: c.error, receivedAt: c.received_at,
  }),
  brief: (b: BriefRow) => ({
    id: b.id, dealId: b.deal_id, briefDate: b.brief_date, status: b.status, error: b.error,
    progressSnapshot: b.progress_snapshot, changes: b.changes, blockers: b.blockers, risks: b.risks, communications: b.communications,
    markdown: b.markdown, narrative: b.narrative ?? null, createdAt: b.created_at, publishedAt: b.published_at,
  }),
  source: (s: SourceRow) => ({
    id: s.id, dealId: s.deal_id, sourceType: s.source_type, folderId: s.folder_id, isActive: s.is_active,
    hasCursor: s.page_token !== null, lastSyncedAt: s.last_synced_at, lastError: s.last_error,
  }),
};
