import { createHmac } from 'node:crypto';
import type { SubscriberRow } from '../subscribers-store.ts';
import { channelHttp, type ChannelHttpOptions } from './http.ts';
import type { ChannelProvider, OutgoingMessage, SendResult } from './types.ts';

/**
 * Chat: a Slack-compatible incoming webhook (`{"text": ...}`; Slack answers `ok`) or a generic
 * JSON webhook signed with HMAC-SHA256 over `<timestamp>.<body>` (headers X-Nova-Timestamp and
 * X-Nova-Signature: sha256=<hex>). The subscriber's chat_webhook_url says where; its
 * `data.chatFormat` (`slack` | `webhook`) which, default slack for hooks.slack.com. The URL is
 * subscriber data, so every call passes the address guard (no loopback, private or metadata hosts).
 */
export class ChatChannel implements ChannelProvider {
  readonly channel = 'CHAT' as const;
  readonly provider = 'webhook';
  private readonly http;

  constructor(private readonly secret: string | undefined, timeoutMs: number, guard: ChannelHttpOptions['guard']) {
    this.http = channelHttp('chat', timeoutMs, { guard });
  }

  unreachable(r: SubscriberRow): string | null {
    return r.chat_webhook_url ? null : 'subscriber has no chat webhook';
  }

  async send(m: OutgoingMessage, signal: AbortSignal): Promise<SendResult> {
    const url = m.recipient.chat_webhook_url!;
    const format = (m.recipient.data?.chatFormat as string | undefined) ?? (new URL(url).hostname === 'hooks.slack.com' ? 'slack' : 'webhook');
    const text = m.content.subject ? `*${m.content.subject}*\n${m.content.body}` : m.content.body;
    if (format === 'slack') {
      await this.http(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) }, signal);
      return { provider: 'slack', messageId: null };
    }
    const body = JSON.stringify({
      notificationId: m.notificationId, workflow: m.workflowKey, subscriberId: m.recipient.subscriber_id, transactionId: m.transactionId,
      subject: m.content.subject, text: m.content.body,
    });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.secret) {
      const ts = String(Math.floor(Date.now() / 1000));
      headers['x-nova-timestamp'] = ts;
      headers['x-nova-signature'] = `sha256=${createHmac('sha256', this.secret).update(`${ts}.${body}`).digest('hex')}`;
    }
    await this.http(url, { method: 'POST', headers, body }, signal);
    return { provider: this.provider, messageId: null };
  }
}
