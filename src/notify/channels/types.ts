/**
 * The channel provider contract: each channel (email, in-app, chat, SMS) has a real
 * implementation and a local one behind the same interface; the local one is the real one
 * pointed at an emulator (SMTP sink, Twilio emulator) or, for in-app, Nova's own inbox.
 */
import type { ChannelType } from '../store.ts';
import type { SubscriberRow } from '../subscribers-store.ts';
import type { Rendered } from '../templates.ts';

export interface OutgoingMessage {
  notificationId: number;
  enterpriseId: string | null;
  workflowKey: string;
  transactionId: string | null;
  recipient: SubscriberRow;
  content: Rendered;
}

export interface SendResult {
  provider: string;
  messageId: string | null;
}

export interface ChannelProvider {
  readonly channel: ChannelType;
  readonly provider: string;
  /** Why this recipient cannot be reached on this channel (no address, channel off), or null. */
  unreachable(recipient: SubscriberRow): string | null;
  /** Sends once; throws PermanentDeliveryError when trying again cannot help. */
  send(message: OutgoingMessage, signal: AbortSignal): Promise<SendResult>;
}

/** A refusal retrying cannot fix (a bad address, a 4xx): the delivery fails at once. */
export class PermanentDeliveryError extends Error {
  override name = 'PermanentDeliveryError';
}
