import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { EmailDeps } from './deps.ts';
import { HttpError } from '../runtime/http-error.ts';
import { Batcher } from '../runtime/batcher.ts';
import type { Services } from '../runtime/domain.ts';
import { recordAndQueue, recordRejected } from './webhook-log.ts';
import { webhookEnvelope, type WebhookEnvelope } from './nylas/wire.ts';
import { WEBHOOK_QUEUE } from './queues.ts';

/**
 * Webhook intake, on the API server: `GET /webhooks/nylas?challenge=` answers Nylas's
 * verification; `POST /webhooks/nylas` checks the signature over the raw bytes before anything
 * else, records the delivery in the audit log and enqueues it in one transaction, and answers 200
 * once that has committed. Deliveries arriving together share one transaction (see Batcher), which
 * is what lets one process accept thousands per second durably.
 */
export function webhookRoutes(app: FastifyInstance, services: Services, deps: EmailDeps): void {
  const secret = deps.config.NYLAS_WEBHOOK_SECRET;
  const intake = new Batcher<WebhookEnvelope, 'accepted' | 'duplicate'>((batch) => accept(services, batch), 500, 2);

  // The signature covers the exact bytes sent, so every body reaches the handler unparsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.get('/webhooks/nylas', async (req, reply) => {
    const challenge = (req.query as { challenge?: unknown }).challenge;
    if (typeof challenge !== 'string' || challenge === '') {
      throw new HttpError(400, 'missing_challenge', 'expected ?challenge=<value>');
    }
    // Exactly the value, as plain text: Nylas compares the raw body.
    return reply.type('text/plain; charset=utf-8').send(challenge);
  });

  app.post('/webhooks/nylas', async (req, reply) => {
    if (!secret) throw new HttpError(503, 'not_configured', 'NYLAS_WEBHOOK_SECRET is not set; deliveries are refused');
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!signatureMatches(raw, req.headers['x-nylas-signature'], secret)) {
      // Nothing is written for an unsigned or forged delivery.
      throw new HttpError(401, 'invalid_signature', 'x-nylas-signature does not match the body');
    }
    const text = raw.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      const reason = `malformed JSON: ${(err as Error).message}`;
      await recordRejected(services.sql, text, reason);
      throw new HttpError(400, 'malformed_json', reason);
    }
    const parsed = webhookEnvelope.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const reason = `not a Nylas notification: ${issue?.path.join('.') || '(body)'}: ${issue?.message}`;
      const id = (json as { id?: unknown } | null)?.id;
      await recordRejected(services.sql, text, reason, typeof id === 'string' ? id : undefined);
      throw new HttpError(400, 'invalid_notification', reason);
    }
    const outcome = await intake.add(parsed.data);
    return reply.send({ status: outcome, id: parsed.data.id });
  });
}

/** One statement for a batch: audit rows (redeliveries skipped) and their jobs, atomically. */
async function accept(services: Services, batch: WebhookEnvelope[]): Promise<('accepted' | 'duplicate')[]> {
  // The same envelope twice in one batch is a redelivery too.
  const unique = [...new Map(batch.map((e) => [e.id, e])).values()];
  const { recorded: inserted, jobIds } = await recordAndQueue(services.sql, services.queue, WEBHOOK_QUEUE, unique);
  services.queue.announce(WEBHOOK_QUEUE, jobIds);
  const seen = new Set<string>();
  return batch.map((e) => {
    const fresh = inserted.has(e.id) && !seen.has(e.id);
    seen.add(e.id);
    return fresh ? 'accepted' : 'duplicate';
  });
}

/** Constant-time comparison of the lowercase hex HMAC-SHA256 of the raw body. */
export function signatureMatches(raw: Buffer, header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== 'string') return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = Buffer.from(header.trim().toLowerCase(), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
