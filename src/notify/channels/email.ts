import nodemailer, { type Transporter } from 'nodemailer';
import type { ChannelProvider, OutgoingMessage, SendResult } from './types.ts';
import { PermanentDeliveryError } from './types.ts';
import type { SubscriberRow } from '../subscribers-store.ts';

/**
 * Email over SMTP with nodemailer (a pooled transport). The same code reaches a real relay
 * (NOTIFY_SMTP_URL) or the local SMTP sink (src/emulators/smtp). A 5xx SMTP reply is permanent;
 * 4xx replies and connection faults are retried by the delivery step.
 */
export class EmailChannel implements ChannelProvider {
  readonly channel = 'EMAIL' as const;
  readonly provider = 'smtp';
  private readonly transport: Transporter;

  /**
   * `pooled` (default): up to 8 connections kept open, for the delivery path; otherwise one
   * connection per message, nothing left open. `timeoutMs` bounds connecting, the greeting and
   * an idle socket (nodemailer's own defaults are minutes).
   */
  constructor(smtpUrl: string, private readonly from: string, options: { pooled?: boolean; timeoutMs?: number } = {}) {
    const url = new URL(smtpUrl);
    const t = options.timeoutMs;
    this.transport = nodemailer.createTransport({
      host: url.hostname, port: Number(url.port) || (url.protocol === 'smtps:' ? 465 : 587), secure: url.protocol === 'smtps:',
      ...(url.username && { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }),
      ...(options.pooled === false ? {} : { pool: true, maxConnections: 8, maxMessages: 10_000 }),
      ...(t && { connectionTimeout: t, greetingTimeout: t, socketTimeout: t }),
      // A fixed EHLO name: nodemailer would otherwise look the machine's name up for every connection.
      name: 'nova.local',
    });
  }

  unreachable(r: SubscriberRow): string | null {
    return r.email ? null : 'subscriber has no email address';
  }

  async send(m: OutgoingMessage, signal: AbortSignal): Promise<SendResult> {
    signal.throwIfAborted();
    return this.mail({
      to: m.recipient.email!, subject: m.content.subject ?? '(no subject)', html: m.content.body,
      headers: { 'X-Nova-Notification': String(m.notificationId) },
    });
  }

  /** One message straight to the relay, stored nowhere (approval links: approval-mail.ts). */
  async mail(message: { to: string; subject: string; html: string; text?: string; headers?: Record<string, string> }): Promise<SendResult> {
    try {
      const info = await this.transport.sendMail({ from: this.from, ...message });
      return { provider: this.provider, messageId: info.messageId ?? null };
    } catch (err) {
      const code = (err as { responseCode?: number }).responseCode;
      if (code !== undefined && code >= 500) throw new PermanentDeliveryError(`SMTP ${code}: ${(err as Error).message}`, { cause: err });
      throw err;
    }
  }

  close(): void {
    this.transport.close();
  }
}
