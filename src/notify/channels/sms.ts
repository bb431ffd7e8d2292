import { z } from 'zod';
import { parseAnswer } from '../../runtime/outbound.ts';
import type { SubscriberRow } from '../subscribers-store.ts';
import { channelHttp } from './http.ts';
import type { ChannelProvider, OutgoingMessage, SendResult } from './types.ts';

const messageResource = z.object({ sid: z.string() });

/**
 * SMS through Twilio's Messages API (or anything that speaks it: src/emulators/twilio):
 * `POST <api>/2010-04-01/Accounts/<sid>/Messages.json`, form body To/From/Body, basic auth.
 */
export class SmsChannel implements ChannelProvider {
  readonly channel = 'SMS' as const;
  readonly provider = 'twilio';
  private readonly http;

  constructor(private readonly options: { apiUrl: string; accountSid: string | undefined; authToken: string | undefined; from: string | undefined; timeoutMs: number }) {
    // Twilio's error body: {code, message, more_info, status}.
    this.http = channelHttp('twilio', options.timeoutMs, {
      describeError: (text) => {
        const e = JSON.parse(text) as { code?: number; message?: string };
        return { message: e.message && `${e.code ?? ''} ${e.message}`.trim(), code: e.code === undefined ? undefined : String(e.code) };
      },
    });
  }

  unreachable(r: SubscriberRow): string | null {
    if (!this.options.accountSid || !this.options.authToken || !this.options.from) return 'SMS is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM)';
    return r.phone ? null : 'subscriber has no phone number';
  }

  async send(m: OutgoingMessage, signal: AbortSignal): Promise<SendResult> {
    const { apiUrl, accountSid, authToken, from } = this.options;
    const body = new URLSearchParams({ To: m.recipient.phone!, From: from!, Body: m.content.body }).toString();
    const answer = await this.http(`${apiUrl}/2010-04-01/Accounts/${encodeURIComponent(accountSid!)}/Messages.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}` },
      body,
    }, signal);
    const resource = parseAnswer('twilio', messageResource, answer, 'message resource');
    return { provider: this.provider, messageId: resource.sid };
  }
}
