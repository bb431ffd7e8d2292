/**
 * The notifications domain's per-process state, built once by `setup`: the channel providers,
 * the template engine, the Novu client, and (with no NOTIFY_SMTP_URL) the in-process SMTP sink
 * that the email channel then delivers to.
 */
import type { Liquid } from 'liquidjs';
import type { Logger } from '../log.ts';
import { SmtpSink } from '../emulators/smtp/index.ts';
import type { Services } from '../runtime/domain.ts';
import type { WorkflowEngine } from '../workflows/index.ts';
import { ChatChannel } from './channels/chat.ts';
import { EmailChannel } from './channels/email.ts';
import { InAppChannel } from './channels/in-app.ts';
import { SmsChannel } from './channels/sms.ts';
import type { ChannelProvider } from './channels/types.ts';
import type { NotifyConfig } from './config.ts';
import { NovuClient } from './novu.ts';
import type { ChannelType } from './store.ts';
import { createLiquid } from './templates.ts';

export interface NotifyDeps {
  services: Services;
  config: NotifyConfig;
  engine: WorkflowEngine;
  channels: Map<ChannelType, ChannelProvider>;
  liquid: Liquid;
  novu: NovuClient | undefined;
  /** The in-process SMTP sink when NOTIFY_SMTP_URL is unset (captured mail: /api/notify/emulator/smtp). */
  sink: SmtpSink | undefined;
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
    sink = new SmtpSink();
    smtpUrl = await sink.start();
    log.info(`NOTIFY_SMTP_URL is not set: email goes to the in-process SMTP sink at ${smtpUrl} (see GET /api/notify/emulator/smtp)`);
  }
  const email = new EmailChannel(smtpUrl, config.NOTIFY_EMAIL_FROM);
  const providers: ChannelProvider[] = [
    email,
    new InAppChannel(services.sql, services.events),
    new ChatChannel(config.NOTIFY_WEBHOOK_SECRET, config.NOTIFY_HTTP_TIMEOUT_MS),
    new SmsChannel({
      apiUrl: config.TWILIO_API_URL, accountSid: config.TWILIO_ACCOUNT_SID, authToken: config.TWILIO_AUTH_TOKEN, from: config.TWILIO_FROM,
      timeoutMs: config.NOTIFY_HTTP_TIMEOUT_MS,
    }),
    ...(options.channels ?? []),
  ];
  const channels = new Map<ChannelType, ChannelProvider>();
  for (const p of providers) channels.set(p.channel, p);
  return {
    services, config, engine, channels, log, sink,
    liquid: createLiquid(),
    novu: config.NOVU_SECRET_KEY ? new NovuClient(config.NOVU_API_URL, config.NOVU_SECRET_KEY, config.NOTIFY_HTTP_TIMEOUT_MS) : undefined,
    close: async () => {
      email.close();
      await sink?.stop();
    },
  };
}
