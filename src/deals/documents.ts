import type { Job } from '../queue/types.ts';
import type { DeadContext, JobContext } from '../runtime/domain.ts';
import { classifyOutput, parsed, risksOutput, summaryOutput } from './analysis.ts';
import { toJobControl } from '../runtime/outbound.ts';
import { DriveNotConfigured, GraphNotConfigured, type DealsDeps } from './deps.ts';
import type { DocumentJob } from './queues.ts';
import * as store from './store.ts';
import { extractText, mimeOf, UnreadableDocument, type ReadResult } from './text.ts';
import { isUuid } from './ids.ts';

/** A document the job names is gone: retrying cannot bring it back. */
export class DocumentNotFound extends Error {
  override name = 'DocumentNotFound';
}

/**
 * document-processing: reads the document's text (once: stored on the row), then runs the
 * operation through the analyzer and stores its schema-checked result. Progress 10 → 30 → 100 as
 * in the original.
 */
export async function processDocument(job: DocumentJob, ctx: JobContext<DocumentJob, DealsDeps>): Promise<unknown> {
  const { sql } = ctx.services;
  const doc = await store.getDocument(sql, job.documentId);
  if (!doc || doc.deal_id !== job.dealId) throw new DocumentNotFound(`document ${job.documentId} of deal ${job.dealId} not found`);
  if (doc.status === 'deleted') return { skipped: 'deleted' };
  await ctx.progress(10);
  const read = doc.content === null ? await readText(doc, ctx) : undefined;
  const text = doc.content ?? read!.text;
  await ctx.progress(30);
  const input = { name: doc.name, text };
  const { analyzer } = ctx.deps;
  let result: Record<string, unknown>;
  switch (job.operation) {
    case 'summarize': {
      const { summary } = parsed(summaryOutput, await analyzer.summarize(input, ctx.signal));
      await store.saveSummary(sql, doc.id, summary);
      result = { summary };
      break;
    }
    case 'extract_risks': {
      // Stored on the document (the original returned them and dropped them).
      const { risks } = parsed(risksOutput, await analyzer.extractRisks(input, ctx.signal));
      await store.saveRisks(sql, doc.id, risks);
      result = { risks, riskCount: risks.length };
      break;
    }
    case 'classify': {
      if (doc.workstream_id) return { alreadyClassified: true, workstream: doc.workstream };
      const classification = parsed(classifyOutput, await analyzer.classify(input, ctx.signal));
      await store.saveClassification(sql, doc.id, classification, classification.workstream);
      result = classification;
      break;
    }
  }
  await ctx.progress(100);
  const ocr = read?.ocrPages ? { ocrPages: read.ocrPages, ...(read.skippedPages && { ocrSkippedPages: read.skippedPages }) } : {};
  return { documentId: doc.id, operation: job.operation, provider: analyzer.provider, ...ocr, ...result };
}

/** The text of a document stored without it: from its uploaded file, else from its source. */
async function readText(doc: store.DocumentRow, ctx: JobContext<DocumentJob, DealsDeps>): Promise<ReadResult> {
  const { sql } = ctx.services;
  const max = ctx.deps.config.DEALS_MAX_DOCUMENT_CHARS;
  let bytes = await store.fileData(sql, doc.id);
  if (!bytes && (doc.source_type === 'gdrive' || doc.source_type === 'sharepoint') && doc.source_id) {
    try {
      bytes = doc.source_type === 'gdrive'
        ? await ctx.deps.drive.download(doc.deal_id, doc.source_id, ctx.signal)
        : await ctx.deps.graph.download(doc.deal_id, doc.source_id, ctx.signal);
    } catch (err) {
      // A 404 or 403 becomes a PermanentFailure; a 429 waits for the budget without an attempt.
      throw toJobControl(err);
    }
  }
  if (!bytes) throw new UnreadableDocument(`document ${doc.id} has neither text nor a file to read`);
  const { config, ocr } = ctx.deps;
  const read = await extractText(bytes, mimeOf(doc.name, doc.mime_type), { maxChars: max, ocr, maxOcrPages: config.DEALS_OCR_MAX_PAGES, signal: ctx.signal });
  await store.saveContent(sql, doc.id, read.text);
  return read;
}

/** Errors no retry can fix: the document is gone or its file cannot be read. */
export const isPermanentDocumentError = (err: unknown) =>
  err instanceof DocumentNotFound || err instanceof UnreadableDocument || err instanceof DriveNotConfigured || err instanceof GraphNotConfigured;

/** Every attempt failed: the document row says why, for the dashboard and the API. */
export async function onDocumentDead(job: Job<unknown>, ctx: DeadContext<DealsDeps>): Promise<void> {
  const p = job.payload as Partial<DocumentJob>;
  if (!isUuid(p?.documentId)) return;
  await store.markDocumentFailed(ctx.tx, p.documentId, `${p.operation ?? 'processing'} failed: ${ctx.error.message}`.slice(0, 2000));
}
