import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { HttpError } from '../runtime/http-error.ts';
import type { Services } from '../runtime/domain.ts';
import { findMessage, listExtractions, messageExists, saveOutcome, type ExtractionRow, type StoredOutcome } from './store.ts';
import { extractMessage, type ExtractionDeps } from './worker.ts';

const params = z.object({ id: z.uuid({ error: 'must be a message id (uuid)' }) });

/** The API view of one stored extraction. */
export function presentExtraction(row: ExtractionRow, currentVersion: number, currentStatus: ExtractionRow['status'] | 'not_queued') {
  return {
    messageId: row.message_id,
    /** State of the extraction at the current schema version. */
    status: currentStatus,
    schemaVersion: row.schema_version,
    currentSchemaVersion: currentVersion,
    /** True when the result shown was made under an older schema (a new one is on its way). */
    stale: row.schema_version < currentVersion,
    extraction: row.result,
    error: row.error,
    rawOutput: row.raw_output,
    provider: row.provider,
    model: row.model,
    promptVersion: row.prompt_version,
    usage: row.input_tokens === null ? null : { inputTokens: row.input_tokens, outputTokens: row.output_tokens ?? 0 },
    calls: row.calls,
    durationMs: row.duration_ms,
    queuedAt: row.queued_at.toISOString(),
    extractedAt: row.extracted_at?.toISOString() ?? null,
  };
}

/**
 * Picks what to show: the current version's row once it has finished; while it is queued (or
 * missing), the newest finished result of an older version, marked stale.
 */
export function pickExtraction(rows: ExtractionRow[], currentVersion: number) {
  const current = rows.find((r) => r.schema_version === currentVersion);
  const finished = current && current.status !== 'queued' ? current : (rows.find((r) => r.status === 'succeeded') ?? current ?? rows[0]);
  return finished && presentExtraction(finished, currentVersion, current?.status ?? 'not_queued');
}

const extractParams = z.object({ id: z.string().min(1).max(300) });
const extractBody = z.object({ save: z.boolean().default(true) }).default({ save: true });

/** What `nova extract` prints, and `POST /api/messages/:id/extract` answers. */
export function presentOutcome(messageId: string, outcome: StoredOutcome) {
  return outcome.status === 'succeeded'
    ? { messageId, status: outcome.status, extraction: outcome.result, durationMs: outcome.durationMs }
    : { messageId, ...outcome };
}

/** GET /api/messages/:id/extraction; POST /api/messages/:id/extract (`nova extract` while Nova runs) */
export function extractionRoutes(app: FastifyInstance, services: Services, deps: ExtractionDeps, schemaVersion: number): void {
  // `nova extract` on the embedded database goes through here while a process owns it.
  app.post('/api/messages/:id/extract', async (req) => {
    const { id } = extractParams.parse(req.params);
    const { save } = extractBody.parse(req.body ?? undefined);
    const message = await findMessage(services.sql, id);
    if (!message) throw new HttpError(404, 'not_found', `no message ${id}`);
    const outcome = await extractMessage(message, deps.extractor, deps.config, schemaVersion);
    if (save) await saveOutcome(services.sql, message.id, schemaVersion, outcome);
    return presentOutcome(message.id, outcome);
  });

  app.get('/api/messages/:id/extraction', async (req) => {
    const { id } = params.parse(req.params);
    const shown = pickExtraction(await listExtractions(services.sql, id), schemaVersion);
    if (shown) return shown;
    if (await messageExists(services.sql, id)) throw new HttpError(404, 'not_extracted', `message ${id} has no extraction yet`);
    throw new HttpError(404, 'not_found', `no message ${id}`);
  });
}
