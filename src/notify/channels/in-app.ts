import type { EventHub } from '../../queue/events.ts';
import type { Sql } from '../../storage/index.ts';
import { insertMessage } from '../inbox-store.ts';
import type { SubscriberRow } from '../subscribers-store.ts';
import type { ChannelProvider, OutgoingMessage, SendResult } from './types.ts';

/** The topic a subscriber's inbox changes are published on (`/ws`). */
export const inboxTopic = (subscriberId: string) => `inbox:${subscriberId}`;

/**
 * In-app: a message in the subscriber's inbox (notify.ent_inbox_message), announced on the
 * `/ws` topic `inbox:<subscriberId>` once it is stored. Every subscriber is reachable.
 */
export class InAppChannel implements ChannelProvider {
  readonly channel = 'IN_APP' as const;
  readonly provider = 'nova-inbox';

  constructor(private readonly sql: Sql, private readonly events: EventHub) {}

  unreachable(_r: SubscriberRow): string | null {
    return null;
  }

  async send(m: OutgoingMessage): Promise<SendResult> {
    const row = await insertMessage(this.sql, {
      enterpriseId: m.enterpriseId, subscriberId: m.recipient.subscriber_id, notificationId: m.notificationId,
      title: m.content.subject, body: m.content.body, actionUrl: m.content.actionUrl,
    });
    this.events.emit({ type: 'inbox.message', topic: inboxTopic(m.recipient.subscriber_id), data: row, at: Date.now() });
    return { provider: this.provider, messageId: String(row.id) };
  }
}
