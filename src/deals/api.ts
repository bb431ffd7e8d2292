import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HttpError } from '../runtime/http-error.ts';
import { plainString } from '../runtime/http-input.ts';
import type { Services } from '../runtime/domain.ts';
import type { DealsDeps } from './deps.ts';
import { queueAllDailyBriefs } from './fanout.ts';
import { present } from './present.ts';
import { DOCUMENT_OPERATIONS, queueDailyBrief, queueDocumentProcessing, queueEmailProcessing, queueSourceSync, SOURCE_TYPES } from './queues.ts';
import * as sources from './sources-store.ts';
import * as store from './store.ts';

/**
 * Deals routes (docs/API.md, "Deals"). JSON is camelCase; ids are UUIDs. The Drive push endpoint
 * is `/webhooks/gdrive` (outside /api, so NOVA_API_TOKEN does not refuse Google) with the seed's
 * `/api/webhooks/gdrive` as an alias.
 */

const idParam = z.object({ id: z.uuid({ error: 'must be a UUID' }) });
const dateParam = z.object({ id: z.uuid({ error: 'must be a UUID' }), date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD') });
const createDeal = z.strictObject({
  name: plainString(200),
  status: z.enum(['active', 'closed', 'paused']).default('active'),
  timezone: z.string().refine(validZone, 'must be an IANA time zone').optional(),
});
const createDocument = z.strictObject({
  name: plainString(500),
  /** Plain text, or a file as base64 with its type (PDF, DOCX). */
  content: z.string().max(5_000_000).optional(),
  contentBase64: z.base64().max(20_000_000).optional(),
  mimeType: plainString(200).optional(),
  sourceUrl: z.url().optional(),
}).refine((d) => !!d.content !== !!d.contentBase64, 'give exactly one of content and contentBase64');
const createCommunication = z.strictObject({
  subject: plainString(1000),
  sender: plainString(500),
  body: z.string().max(1_000_000).optional(),
  threadId: plainString(500).optional(),
  messageId: z.uuid().optional(),
  receivedAt: z.iso.datetime({ offset: true }).optional(),
});
const processBody = z.strictObject({ operation: z.enum(DOCUMENT_OPERATIONS).default('summarize') });
const syncBody = z.strictObject({ sourceType: z.enum(SOURCE_TYPES).default('gdrive'), syncType: z.enum(['full', 'incremental']).default('incremental') });
const sourceBody = z.discriminatedUnion('sourceType', [
  z.strictObject({ sourceType: z.literal('gdrive'), folderId: plainString(500) }),
  /** A SharePoint document library or OneDrive: the Graph drive id, optionally one folder of it. */
  z.strictObject({ sourceType: z.literal('sharepoint'), driveId: plainString(500), folderPath: plainString(1000).optional() }),
  /** Gmail or Outlook through the deal inbox's Nylas grant; a mail is the deal's when a participant matches. */
  z.strictObject({
    sourceType: z.enum(['gmail', 'outlook']),
    grantId: plainString(200),
    participants: z.array(z.email({ error: 'must be an email address' })).max(100).default([]),
    domains: z.array(z.string().regex(/^@?[a-z0-9.-]+\.[a-z]{2,}$/i, 'must be a domain such as example.com')).max(100).default([]),
  }).refine((b) => b.participants.length + b.domains.length > 0, 'give at least one participant or domain'),
]);
const briefBody = z.strictObject({ date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).optional() });

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function dealsRoutes(app: FastifyInstance, services: Services, deps: DealsDeps): void {
  const { sql, queue } = services;
  const dealOr404 = async (id: string) => {
    const deal = await store.getDeal(sql, id);
    if (!deal) throw new HttpError(404, 'not_found', `no deal ${id}`);
    return deal;
  };

  app.get('/api/deals', async () => ({ deals: (await store.listDeals(sql)).map(present.deal) }));
  app.post('/api/deals', async (req, reply) => {
    const body = createDeal.parse(req.body ?? {});
    const deal = await sql.transaction((tx) => store.insertDeal(tx, body));
    return reply.status(201).send({ deal: present.deal(deal) });
  });
  app.get('/api/deals/:id', async (req) => {
    const { id } = idParam.parse(req.params);
    const deal = await dealOr404(id);
    const [documents, communications, briefs, connections] = await Promise.all([
      store.listDocuments(sql, id), store.listCommunications(sql, id), store.listBriefs(sql, id, 30), sources.listSources(sql, id),
    ]);
    return {
      deal: present.deal(deal),
      documents: documents.map(present.document),
      communications: communications.map(present.communication),
      briefs: briefs.map(present.brief),
      sources: connections.map(present.source),
    };
  });

  app.post('/api/deals/:id/documents', async (req, reply) => {
    const { id } = idParam.parse(req.params);
    const body = createDocument.parse(req.body ?? {});
    await dealOr404(id);
    const documentId = await sql.transaction(async (tx) => {
      const docId = await store.insertDocument(tx, {
        dealId: id, name: body.name, sourceType: 'upload', sourceUrl: body.sourceUrl ?? null, mimeType: body.mimeType ?? (body.content ? 'text/plain' : null),
        content: body.content ?? null, fileData: body.contentBase64 ? Buffer.from(body.contentBase64, 'base64') : null,
      });
      for (const op of DOCUMENT_OPERATIONS) await queueDocumentProcessing(queue, docId, id, op, tx);
      return docId;
    });
    return reply.status(201).send({ documentId });
  });

  app.post('/api/deals/:id/communications', async (req, reply) => {
    const { id } = idParam.parse(req.params);
    const body = createCommunication.parse(req.body ?? {});
    await dealOr404(id);
    const emailId = await sql.transaction(async (tx) => {
      const commId = await store.insertCommunication(tx, {
        dealId: id, subject: body.subject, sender: body.sender, body: body.body ?? null, threadId: body.threadId ?? null,
        messageId: body.messageId ?? null, sourceType: body.messageId ? 'nylas' : null, receivedAt: body.receivedAt ? new Date(body.receivedAt) : new Date(),
      });
      await queueEmailProcessing(queue, commId, id, body.threadId ? 'detect_blocker' : 'analyze_sentiment', tx);
      return commId;
    });
    return reply.status(201).send({ emailId });
  });

  app.get('/api/deals/:id/briefs', async (req) => {
    const { id } = idParam.parse(req.params);
    await dealOr404(id);
    return { briefs: (await store.listBriefs(sql, id)).map(present.brief) };
  });
  app.get('/api/deals/:id/briefs/:date', async (req) => {
    const { id, date } = dateParam.parse(req.params);
    const brief = await store.getBrief(sql, id, date);
    if (!brief) throw new HttpError(404, 'not_found', `no brief of deal ${id} on ${date}`);
    return { brief: present.brief(brief) };
  });
  app.post('/api/deals/:id/briefs', async (req, reply) => {
    const { id } = idParam.parse(req.params);
    const { date } = briefBody.parse(req.body ?? {});
    await dealOr404(id);
    return reply.status(202).send({ jobId: await queueDailyBrief(queue, id, date) });
  });

  app.post('/api/deals/:id/sources', async (req, reply) => {
    const { id } = idParam.parse(req.params);
    const body = sourceBody.parse(req.body ?? {});
    await dealOr404(id);
    // The channel token authenticates Drive's push notifications for this source.
    const source = await sources.upsertSource(sql, body.sourceType === 'gdrive'
      ? { dealId: id, sourceType: 'gdrive', folderId: body.folderId, configuration: { folderId: body.folderId }, channelId: randomUUID(), channelToken: randomBytes(24).toString('base64url') }
      : body.sourceType === 'sharepoint'
        ? { dealId: id, sourceType: 'sharepoint', folderId: body.driveId, configuration: { driveId: body.driveId, ...(body.folderPath && { folderPath: body.folderPath }) } }
        : { dealId: id, sourceType: body.sourceType, folderId: null, configuration: { grantId: body.grantId, participants: body.participants, domains: body.domains } });
    const jobId = await queueSourceSync(queue, id, body.sourceType, 'full');
    return reply.status(201).send({ source: { ...present.source(source), channelId: source.channel_id, channelToken: source.channel_token }, jobId });
  });
  app.post('/api/deals/:id/sync', async (req, reply) => {
    const { id } = idParam.parse(req.params);
    const body = syncBody.parse(req.body ?? {});
    await dealOr404(id);
    return reply.status(202).send({ jobId: await queueSourceSync(queue, id, body.sourceType, body.syncType) });
  });

  app.post('/api/documents/:id/process', async (req, reply) => {
    const { id } = idParam.parse(req.params);
    const { operation } = processBody.parse(req.body ?? {});
    const doc = await store.getDocument(sql, id);
    if (!doc) throw new HttpError(404, 'not_found', `no document ${id}`);
    return reply.status(202).send({ success: true, jobId: await queueDocumentProcessing(queue, id, doc.deal_id, operation) });
  });

  // The seed's route and answer shape: {success, message, queued, results}.
  app.post('/api/queue/trigger-daily-briefs', async () => {
    const { queued, deals, results } = await queueAllDailyBriefs(services, new Date(), deps.config.TIMEZONE);
    if (deals === 0) return { success: true, message: 'No active deals found', queued: 0 };
    return { success: true, message: `Queued briefs for ${queued}/${deals} deals`, queued, results: results.map((r) => ({ ...r, success: true })) };
  });

  const gdriveWebhook = async (req: FastifyRequest, reply: FastifyReply) => {
    const header = (name: string) => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const token = header('x-goog-channel-token');
    const state = header('x-goog-resource-state');
    const source = token ? await sources.sourceByChannel(sql, token) : undefined;
    if (!source || source.channel_id !== header('x-goog-channel-id')) throw new HttpError(404, 'unknown_channel', 'no source has this channel');
    // `sync` is Drive's handshake when a channel opens: nothing changed yet.
    if (state === 'sync') return reply.status(200).send({ queued: false });
    const jobId = await queueSourceSync(queue, source.deal_id, 'gdrive', 'incremental');
    return reply.status(200).send({ queued: true, jobId });
  };
  app.post('/webhooks/gdrive', gdriveWebhook);
  app.post('/api/webhooks/gdrive', gdriveWebhook);
}
