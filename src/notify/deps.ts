/**
 * The notifications domain's per-process state, built once by `setup`: the channel providers,
 * the template engine, the Novu client, the address guard of subscriber-supplied URLs, and (with
 * no NOTIFY_SMTP_URL) the in-process SMTP sink that the email channel then delivers to, plus,
 * with no VAPID keys either, an in-process push service and a VAPID key pair made at start.
 */
import type { Liquid } from 'liquidjs';
import webpush from 'web-push';
import type { Logger } from '../log.ts';
import type { SmtpSink } from '../emulators/smtp/index.ts';
import type { PushServiceEmulator } from '../emulators/webpush/index.ts';
import { addressGuard } from '../runtime/address-guard.ts';
import type { Services } from '../runtime/domain.ts';
import type { WorkflowEngine } from '../workflows/index.ts';
import { ChatChannel } from './channels/chat.ts';
import { EmailChannel } from './channels/email.ts';
import { InAppChannel } from './channels/in-app.ts';
import { PushChannel, type Vapid } from './channels/push.ts';
import { SmsChannel } from './channels/sms.ts';
import type { ChannelProvider } from './channels/types.ts';
import type { NotifyConfig } from './config.ts';
import { NovuClient } from './novu.ts';
import type { ChannelType } from './store.ts';
import { CompiledTemplates, createLiquid } from './templates.ts';
import { createBatches, type NotifyBatches } from './batches.ts';

export interface NotifyDeps {
  services: Services;
  config: NotifyConfig;
  engine: WorkflowEngine;
  channels: Map<ChannelType, ChannelProvider>;
  liquid: Liquid;
  /** `liquid` with parsed templates kept (templates.ts). */
  templates: CompiledTemplates;
  /** The delivery path's per-notification statements, batched across notifications (batches.ts). */
  batches: NotifyBatches;
  novu: NovuClient | undefined;
  /** The in-process SMTP sink when NOTIFY_SMTP_URL is unset (captured mail: /api/notify/emulator/smtp). */
  sink: SmtpSink | undefined;
  /** The in-process push service when neither NOTIFY_SMTP_URL nor VAPID keys are set (/api/notify/emulator/push). */
  pushService: PushServiceEmulator | undefined;
  /** The VAPID public key push subscriptions are made for (browsers' applicationServerKey), if push is on. */
  vapidPublicKey: string | undefined;
  log: Logger;
  close(): Promise<void>;
}

export interface NotifySetupOptions {
  /** Extra or replacement providers (tests, an embedder's own channel). */
  channels?: ChannelProvider[];
}

export async function setupNotify(services: Services, engine: WorkflowEngine, options: NotifySetupOptions = {}): Promise<NotifyDeps> {
  const config = services.config as NotifyConfig;
  const log = services.log.child('Notify');
  let sink: SmtpSink | undefined;
  let smtpUrl = config.NOTIFY_SMTP_URL;
  if (!smtpUrl) {
    // The local stand-ins load only when used: a process with a real relay carries neither.
    const { SmtpSink } = await import('../emulators/smtp/index.ts');
    sink = new SmtpSink();
    smtpUrl = await sink.start();
    log.info(`NOTIFY_SMTP_URL is not set: email goes to the in-process SMTP sink at ${smtpUrl} (see GET /api/notify/emulator/smtp)`);
  }
  let vapid: Vapid | undefined = config.VAPID_PUBLIC_KEY && config.VAPID_PRIVATE_KEY && config.VAPID_SUBJECT
    ? { publicKey: config.VAPID_PUBLIC_KEY, privateKey: config.VAPID_PRIVATE_KEY, subject: config.VAPID_SUBJECT }
    : undefined;
  let pushService: PushServiceEmulator | undefined;
  if (!vapid && sink) {
    const { PushServiceEmulator } = await import('../emulators/webpush/index.ts');
    pushService = new PushServiceEmulator();
    await pushService.start();
    vapid = { ...webpush.generateVAPIDKeys(), subject: 'mailto:push@nova.local' };
    log.info(`VAPID keys are not set: web push goes to the in-process push service at ${pushService.url} (see GET /api/notify/emulator/push)`);
  }
  // Subscriber-supplied URLs (chat webhooks, push endpoints) may reach only public addresses; the
  // push service this process started itself is let through.
  const guard = addressGuard({
    allowPrivate: config.NOTIFY_ALLOW_PRIVATE_WEBHOOKS, allowOrigins: () => (pushService ? [pushService.url] : []), hint: 'NOTIFY_ALLOW_PRIVATE_WEBHOOKS=true',
  });
  const email = new EmailChannel(smtpUrl, config.NOTIFY_EMAIL_FROM, { timeoutMs: config.NOTIFY_SMTP_TIMEOUT_MS });
  const providers: ChannelProvider[] = [
    email,
    new InAppChannel(services.sql, services.events),
    new ChatChannel(config.NOTIFY_WEBHOOK_SECRET, config.NOTIFY_HTTP_TIMEOUT_MS, guard),
    new PushChannel({ vapid, ttlSeconds: config.NOTIFY_PUSH_TTL_SECONDS, timeoutMs: config.NOTIFY_HTTP_TIMEOUT_MS, sql: services.sql, log, guard }),
    new SmsChannel({
      apiUrl: config.TWILIO_API_URL, accountSid: config.TWILIO_ACCOUNT_SID, authToken: config.TWILIO_AUTH_TOKEN, from: config.TWILIO_FROM,
      timeoutMs: config.NOTIFY_HTTP_TIMEOUT_MS,
    }),
    ...(options.channels ?? []),
  ];
  const liquid = createLiquid();
  const channels = new Map<ChannelType, ChannelProvider>();
  for (const p of providers) channels.set(p.channel, p);
  return {
    services, config, engine, channels, log, sink, pushService, vapidPublicKey: vapid?.publicKey,
    liquid, templates: new CompiledTemplates(liquid), batches: createBatches(services.sql, config),
    novu: config.NOVU_SECRET_KEY ? new NovuClient(config.NOVU_API_URL, config.NOVU_SECRET_KEY, config.NOTIFY_HTTP_TIMEOUT_MS) : undefined,
    close: async () => {
      email.close();
      await Promise.all([sink?.stop(), pushService?.stop()]);
    },
  };
}
