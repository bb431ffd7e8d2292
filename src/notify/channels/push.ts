import webpush from 'web-push';
import type { Logger } from '../../log.ts';
import type { Sql } from '../../storage/index.ts';
import { removePushSubscriptions, type SubscriberRow } from '../subscribers-store.ts';
import { channelHttp, refusedStatus, type ChannelHttpOptions } from './http.ts';
import type { ChannelProvider, OutgoingMessage, SendResult } from './types.ts';
import { PermanentDeliveryError } from './types.ts';

/** The VAPID identity of this deployment (RFC 8292): the application server key pair and a contact. */
export interface Vapid {
  publicKey: string;
  privateKey: string;
  subject: string;
}

/** The most a push message may carry once encrypted is 4096 bytes; aes128gcm adds 103 of its own. */
export const MAX_PUSH_PAYLOAD = 4096 - 103;

/**
 * Web push (RFC 8030 + 8291 + 8292): for each of the subscriber's push subscriptions, the
 * `web-push` library encrypts the JSON message (`{title, body, actionUrl, notificationId,
 * workflow, transactionId}`) for the browser's keys (aes128gcm) and signs a VAPID JWT for the
 * push service; the request is then sent through the channel's outbound layer (timeouts, the
 * address guard: endpoints are subscriber data). A push service answering 404 or 410 says the
 * subscription is gone: it is removed from the subscriber. The delivery is SENT when at least
 * one subscription took the message; with none left, it fails without retry.
 */
export class PushChannel implements ChannelProvider {
  readonly channel = 'PUSH' as const;
  readonly provider = 'webpush';
  private readonly http;

  constructor(
    private readonly options: { vapid: Vapid | undefined; ttlSeconds: number; timeoutMs: number; sql: Sql; log: Logger; guard: ChannelHttpOptions['guard'] },
  ) {
    this.http = channelHttp('webpush', options.timeoutMs, { guard: options.guard });
  }

  unreachable(r: SubscriberRow): string | null {
    if (!this.options.vapid) return 'push is not configured (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT)';
    return r.push_subscriptions?.length ? null : 'subscriber has no push subscription';
  }

  async send(m: OutgoingMessage, signal: AbortSignal): Promise<SendResult> {
    const { vapid, ttlSeconds } = this.options;
    const payload = JSON.stringify({
      title: m.content.subject, body: m.content.body, actionUrl: m.content.actionUrl,
      notificationId: m.notificationId, workflow: m.workflowKey, transactionId: m.transactionId,
    });
    if (Buffer.byteLength(payload) > MAX_PUSH_PAYLOAD) throw new PermanentDeliveryError(`push message is ${Buffer.byteLength(payload)} bytes (at most ${MAX_PUSH_PAYLOAD})`);
    const subscriptions = m.recipient.push_subscriptions;
    const results = await Promise.allSettled(subscriptions.map(async (sub) => {
      let request: webpush.RequestDetails;
      try {
        request = webpush.generateRequestDetails(sub, payload, {
          vapidDetails: vapid!, TTL: ttlSeconds, contentEncoding: 'aes128gcm', urgency: 'normal',
          // One message per notification on a device: a retried send replaces the one still queued.
          topic: `nova-${m.notificationId}`,
        });
      } catch (err) {
        // Bad keys in the subscription (or a bad VAPID key): trying again cannot help.
        throw new PermanentDeliveryError(`push subscription ${sub.endpoint}: ${(err as Error).message}`, { cause: err });
      }
      const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
      const answer = await this.http(request.endpoint, { method: 'POST', headers, body: new Uint8Array(request.body!) }, signal);
      return answer.headers.get('location') ?? request.endpoint;
    }));
    const gone: string[] = [];
    const failures: unknown[] = [];
    const delivered: string[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') delivered.push(r.value);
      else if (r.reason instanceof PermanentDeliveryError && [404, 410].includes(refusedStatus(r.reason) ?? 0)) gone.push(subscriptions[i]!.endpoint);
      else failures.push(r.reason);
    });
    if (gone.length) {
      await removePushSubscriptions(this.options.sql, m.recipient.subscriber_id, m.enterpriseId, gone);
      this.options.log.info('push subscriptions gone (404/410): removed', { subscriberId: m.recipient.subscriber_id, removed: gone.length });
    }
    if (delivered.length) {
      if (failures.length) this.options.log.warn('push: some subscriptions failed', { subscriberId: m.recipient.subscriber_id, delivered: delivered.length, errors: failures.map(String) });
      return { provider: this.provider, messageId: delivered[0]! };
    }
    // Nothing delivered: a transient fault is retried by the step; otherwise the delivery fails now.
    const transient = failures.find((f) => !(f instanceof PermanentDeliveryError));
    if (transient) throw transient;
    if (failures.length) throw failures[0];
    throw new PermanentDeliveryError(`every push subscription is gone (404/410 from the push service): ${gone.length} removed`);
  }
}
