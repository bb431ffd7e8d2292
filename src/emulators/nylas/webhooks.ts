/**
 * Nylas webhook notifications: the CloudEvents-style envelope, its HMAC signature and delivery.
 * The signature covers the exact bytes POSTed, so the body is serialised once and sent as is.
 */
import { createHmac, randomUUID } from 'node:crypto';

/** The notification envelope Nylas POSTs. */
export interface WebhookEnvelope<T = unknown> {
  specversion: '1.0';
  type: string;
  source: string;
  id: string;
  /** Unix seconds. */
  time: number;
  webhook_delivery_attempt: number;
  data: { application_id: string; object: T };
}

/** The outcome of one POST: the receiver's status and body, or status 0 when it could not be reached. */
export interface WebhookDelivery {
  id: string;
  status: number;
  body: string;
}

/** A signed notification ready to POST. */
export interface SignedWebhook {
  id: string;
  body: string;
  signature: string;
}

/** The x-nylas-signature value: lowercase hex HMAC-SHA256 of the raw body. */
export function signWebhook(rawBody: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('hex');
}

/** Grant lifecycle events come from Nylas itself; mail events from the provider's realtime feed. */
export function webhookSource(type: string): string {
  return type.startsWith('grant.') ? '/nylas/system' : '/google/emails/realtime';
}

export interface EnvelopeInput {
  type: string;
  object: unknown;
  applicationId: string;
  time: number;
  id?: string;
  attempt?: number;
}

export function buildSignedWebhook(input: EnvelopeInput, secret: string): SignedWebhook {
  const attempt = input.attempt ?? 1;
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError('webhook_delivery_attempt must be a positive integer');
  // Random ids: a receiver dedupes on them, and two emulator runs must never reuse one.
  const id = input.id ?? randomUUID();
  const envelope: WebhookEnvelope = {
    specversion: '1.0',
    type: input.type,
    source: webhookSource(input.type),
    id,
    time: input.time,
    webhook_delivery_attempt: attempt,
    data: { application_id: input.applicationId, object: input.object },
  };
  const body = JSON.stringify(envelope);
  return { id, body, signature: signWebhook(body, secret) };
}

/** Nylas gives a receiver about 10 s before it counts the delivery as failed. */
const DELIVERY_TIMEOUT_MS = 10_000;

export async function postWebhook(url: string, webhook: SignedWebhook): Promise<WebhookDelivery> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-nylas-signature': webhook.signature },
      body: webhook.body,
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    return { id: webhook.id, status: response.status, body: await response.text() };
  } catch (error) {
    // An unreachable receiver is an outcome to report, like Nylas's dashboard does, not a crash.
    return { id: webhook.id, status: 0, body: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * The verification Nylas performs when a webhook destination is created: GET `?challenge=<v>`
 * must answer 200 with exactly `<v>` as the raw body.
 */
export async function challengeWebhook(url: string, challenge: string = randomUUID()): Promise<{ ok: boolean; status: number; body: string }> {
  const target = new URL(url);
  target.searchParams.set('challenge', challenge);
  try {
    const response = await fetch(target, { signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) });
    const body = await response.text();
    return { ok: response.status === 200 && body === challenge, status: response.status, body };
  } catch (error) {
    return { ok: false, status: 0, body: error instanceof Error ? error.message : String(error) };
  }
}
