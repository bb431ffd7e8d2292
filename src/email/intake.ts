import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EmailDeps } from './deps.ts';
import { HttpError } from '../runtime/http-error.ts';
import { Batcher } from '../runtime/batcher.ts';
import type { Services } from '../runtime/domain.ts';
import { databaseErrorKind } from '../storage/errors.ts';
import { recordAndQueue, recordRejected } from './webhook-log.ts';
import type { WebhookEnvelope } from './nylas/wire.ts';
import { WEBHOOK_QUEUE } from './queues.ts';
import { ByteBudget, readSignedBody, type SignedBody } from './webhook-body.ts';
import { auditableBody, inspectDelivery, storableText } from './webhook-input.ts';

export { signatureMatches } from './webhook-body.ts';

/**
 * Webhook intake, on the API server: `GET /webhooks/nylas?challenge=` answers Nylas's
 * verification; `POST /webhooks/nylas` streams the body through the signature check (bounded, see
 * webhook-body.ts), validates and bounds every field (webhook-input.ts), records the delivery in
 * the audit log and enqueues it in one transaction, and answers 200 once that has committed.
 * Deliveries arriving together share one transaction (see Batcher); a batch that fails is sent
 * again row by row, so a delivery the database refuses fails alone, with a 400 and an audit row.
 *
 * During a database outage every answer is a 503 with Retry-After within
 * WEBHOOK_INTAKE_TIMEOUT_MS, and for a second after one the next deliveries are refused at once,
 * before their bodies are read: senders retry later instead of piling up open sockets.
 */

/** How long deliveries are refused without trying once the database was found unavailable. */
const UNAVAILABLE_BACKOFF_MS = 1000;
const RETRY_AFTER_SECONDS = 1;

type Outcome = 'accepted' | 'duplicate';

export function webhookRoutes(app: FastifyInstance, services: Services, deps: EmailDeps): void {
  const { config } = deps;
  const log = services.log.child('Webhooks');
  const budget = new ByteBudget(config.WEBHOOK_BODY_BUDGET_BYTES);
  // Row by row is for a batch the database refused because of one row; when it failed because
  // the database is not there, every row would fail again, one round trip each.
  let batchUnavailable: unknown;
  const intake = new Batcher<WebhookEnvelope, Outcome>(
    async (batch) => {
      try {
        const outcomes = await accept(services, batch);
        batchUnavailable = undefined;
        return outcomes;
      } catch (err) {
        batchUnavailable = databaseErrorKind(err) === 'unavailable' ? err : undefined;
        throw err;
      }
    },
    500, 2,
    async (one) => {
      if (batchUnavailable !== undefined) throw batchUnavailable;
      return (await accept(services, [one]))[0]!;
    },
  );
  let unavailableUntil = 0;
  const unavailable = (why: string): HttpError => {
    unavailableUntil = Date.now() + UNAVAILABLE_BACKOFF_MS;
    return new HttpError(503, 'unavailable', `the database is unavailable (${why}); retry later`, { retryAfterSeconds: RETRY_AFTER_SECONDS });
  };
  const bounded = <T>(work: Promise<T>) => withTimeout(work, config.WEBHOOK_INTAKE_TIMEOUT_MS);

  // The signature covers the exact bytes sent, so every body reaches the handler unparsed, read
  // through the HMAC with the limits above.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (req: FastifyRequest, payload: IncomingMessage) =>
    readSignedBody(req.headers, payload, { secret: config.NYLAS_WEBHOOK_SECRET, limit: config.WEBHOOK_BODY_LIMIT_BYTES, budget }));

  // A refusal sent before the body was read in full closes the connection: the rest of an
  // oversized or unsigned upload is never read, and the socket does not linger.
  app.addHook('onSend', async (req, reply) => {
    if (reply.statusCode >= 400 && !req.raw.complete) reply.header('connection', 'close');
  });

  app.get('/webhooks/nylas', async (req, reply) => {
    const challenge = (req.query as { challenge?: unknown }).challenge;
    if (typeof challenge !== 'string' || challenge === '') {
      throw new HttpError(400, 'missing_challenge', 'expected ?challenge=<value>');
    }
    // Exactly the value, as plain text: Nylas compares the raw body.
    return reply.type('text/plain; charset=utf-8').send(challenge);
  });

  app.post('/webhooks/nylas', {
    onRequest: async () => {
      if (Date.now() < unavailableUntil) throw unavailable('recently failed');
    },
  }, async (req, reply) => {
    const body = req.body as SignedBody | undefined;
    // Fastify skips the parser for an empty body: nothing was signed.
    if (!body) throw new HttpError(config.NYLAS_WEBHOOK_SECRET ? 401 : 503, config.NYLAS_WEBHOOK_SECRET ? 'invalid_signature' : 'not_configured', 'a signed body is required');
    try {
      return await handle(body.raw, reply);
    } finally {
      body.release();
    }
  });

  async function handle(raw: Buffer, reply: FastifyReply) {
    const text = raw.toString('utf8');
    const inspected = inspectDelivery(text);
    if (!inspected.ok) {
      await reject(text, inspected.reason, inspected.id);
      throw new HttpError(400, inspected.code, storableText(inspected.reason));
    }
    const { envelope, notes } = inspected;
    if (notes.length) log.warn('webhook delivery cleaned before storing', { id: envelope.id, notes });
    // What was changed is kept with the delivery itself, in the audit row's payload.
    const stored = notes.length ? ({ ...envelope, nova_intake_notes: notes } as WebhookEnvelope) : envelope;
    let outcome: Outcome;
    try {
      outcome = await bounded(intake.add(stored));
    } catch (err) {
      const kind = err instanceof IntakeTimeout ? 'unavailable' : databaseErrorKind(err);
      if (kind === 'unavailable') throw unavailable(err instanceof Error ? err.message : String(err));
      if (kind !== 'data') throw err;
      // Validation should have caught it; whatever slipped through fails alone, recorded.
      const reason = `refused by the database: ${(err as Error).message}`;
      log.warn('webhook delivery refused by the database', { id: envelope.id, error: err });
      await reject(text, reason, envelope.id);
      throw new HttpError(400, 'invalid_notification', storableText(reason));
    }
    return reply.send({ status: outcome, id: envelope.id });
  }

  /** Records a refused delivery. An audit row that cannot be written never turns a 400 into a 500. */
  async function reject(text: string, reason: string, id: string | undefined): Promise<void> {
    try {
      await bounded(recordRejected(services.sql, auditableBody(text), storableText(reason), id));
    } catch (err) {
      const kind = err instanceof IntakeTimeout ? 'unavailable' : databaseErrorKind(err);
      if (kind === 'unavailable') throw unavailable(err instanceof Error ? err.message : String(err));
      log.error('could not record a refused webhook delivery', { error: err });
    }
  }
}

/** One statement for a batch: audit rows (redeliveries skipped) and their jobs, atomically. */
async function accept(services: Services, batch: WebhookEnvelope[]): Promise<Outcome[]> {
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

class IntakeTimeout extends Error {
  override name = 'IntakeTimeout';
}

/**
 * Rejects after `ms` if `work` has not settled. The work itself goes on (a statement cannot be
 * taken back); a delivery answered 503 that commits later is a duplicate on redelivery.
 */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new IntakeTimeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
