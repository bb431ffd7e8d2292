/** Public face of the Nylas v3 emulator: import from here, not from the files beside it. */
export { NylasEmulator, type MutationOptions } from './emulator.ts';
export type { FaultOptions, NylasEmulatorOptions } from './options.ts';
export type { FaultCounts, InjectedFailure, TrafficStats } from './faults.ts';
export { UnknownObjectError, type MessageChanges, type NewMessage } from './mailbox.ts';
export { challengeWebhook, signWebhook, webhookSource, type SignedWebhook, type WebhookDelivery, type WebhookEnvelope } from './webhooks.ts';
export type {
  WireAttachment, WireError, WireGrant, WireHeader, WireList, WireMessage, WireParticipant, WireThread,
} from './wire.ts';
