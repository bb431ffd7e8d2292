import type { EventHub } from '../../queue/events.ts';
import type { Sql } from '../../storage/index.ts';
import { Batcher } from '../../runtime/batcher.ts';
import { insertMessage, insertMessages, type InboxRow, type NewInboxMessage } from '../inbox-store.ts';
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

  /**
   * Messages of the deliveries running at once in this process go in one statement (one commit
   * instead of one each); a failed batch is retried message by message. A message with no
   * notification id, which the unique key cannot tell apart, goes alone.
   */
  private readonly inserts: Batcher<NewInboxMessage, InboxRow>;

  constructor(private readonly sql: Sql, private readonly events: EventHub) {
    this.inserts = new Batcher(async (list) => {
      const seen = new Set<string>();
      const together = list.filter((m) => {
        const k = `${m.notificationId}:${m.subscriberId}`;
        if (m.notificationId === null || seen.has(k)) return false;
        seen.add(k);
        return true;
      });
      const rows = together.length ? await insertMessages(this.sql, together) : [];
      const byMessage = new Map(together.map((m, i) => [m, rows[i]!]));
      const out: InboxRow[] = [];
      for (const m of list) out.push(byMessage.get(m) ?? (await insertMessage(this.sql, m)));
      return out;
    }, 500, 1, (m) => insertMessage(this.sql, m));
  }

  unreachable(_r: SubscriberRow): string | null {
    return null;
  }

  async send(m: OutgoingMessage): Promise<SendResult> {
    const row = await this.inserts.add({
      enterpriseId: m.enterpriseId, subscriberId: m.recipient.subscriber_id, notificationId: m.notificationId,
      title: m.content.subject, body: m.content.body, actionUrl: m.content.actionUrl,
    });
    this.events.emit({ type: 'inbox.message', topic: inboxTopic(m.recipient.subscriber_id), data: row, at: Date.now() });
    return { provider: this.provider, messageId: String(row.id) };
  }
}
