/**
 * NylasEmulator: one generated mailbox per grant, served over HTTP in the Nylas v3 wire format,
 * with controllable faults and signed webhook delivery for the mutations tests make.
 */
import { TrafficControl, type InjectedFailure, type TrafficStats } from './faults.ts';
import { Mailbox, type MessageChanges, type NewMessage } from './mailbox.ts';
import { resolveFaults, resolveOptions, type FaultOptions, type NylasEmulatorOptions, type ResolvedOptions } from './options.ts';
import { NylasApiServer } from './server.ts';
import { buildSignedWebhook, challengeWebhook, postWebhook, type SignedWebhook, type WebhookDelivery } from './webhooks.ts';
import { presentMessage, type WireMessage, type WireThread } from './wire.ts';

/** Options of a mutation: `deliver: false` skips the webhook, `truncated` sends the body-less variant. */
export interface MutationOptions {
  deliver?: boolean;
  truncated?: boolean;
}

/** Grant expiry sends Nylas error code 25009 (token expired or revoked). */
const GRANT_EXPIRED_CODE = 25009;

export class NylasEmulator {
  private readonly options: ResolvedOptions;
  private readonly mailbox: Mailbox;
  private readonly traffic: TrafficControl;
  private server: NylasApiServer | undefined;
  private baseUrl: string | undefined;
  private readonly createdAt = Date.now();
  /** Unix seconds the emulator clock starts from. */
  private readonly clockBase: number;

  constructor(options: NylasEmulatorOptions = {}) {
    this.options = resolveOptions(options);
    this.clockBase = options.now === undefined ? Math.floor(this.createdAt / 1000) : this.options.now;
    const { seed, threadsPerGrant, messagesPerThread, now } = this.options;
    this.mailbox = new Mailbox({ seed, threads: threadsPerGrant, messagesPerThread, now }, () => this.clock());
    this.traffic = new TrafficControl(seed, this.options.faults, this.options.rateLimitPerSecond);
  }

  /** Base URL without a trailing slash (the SDK would otherwise build `//v3`). Throws before start(). */
  get url(): string {
    if (this.baseUrl === undefined) throw new Error('NylasEmulator is not started');
    return this.baseUrl;
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.server) throw new Error('NylasEmulator is already started');
    const server = new NylasApiServer(this.mailbox, this.traffic, {
      apiKey: this.options.apiKey,
      maxThreadPageSize: this.options.maxThreadPageSize,
      maxMessagePageSize: this.options.maxMessagePageSize,
    });
    const bound = await server.listen(port, host);
    this.server = server;
    this.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
    return this.baseUrl;
  }

  /** Closes every connection, including requests held open by the timeout fault. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.baseUrl = undefined;
    await server?.close();
  }

  setFaults(faults: FaultOptions): void {
    this.traffic.setFaults(resolveFaults(faults));
  }

  setRateLimit(perSecond: number | undefined): void {
    this.traffic.setRateLimit(perSecond);
  }

  /** Answers the next `count` API requests (optionally only those whose path and query contain `pathIncludes`) with `status`. */
  injectFailures(spec: InjectedFailure): void {
    this.traffic.inject(spec);
  }

  stats(): TrafficStats {
    return this.traffic.stats();
  }

  /** Every thread of the grant, newest first. */
  listThreads(grantId: string): WireThread[] {
    const all: WireThread[] = [];
    let cursor;
    do {
      const page = this.mailbox.listThreads(grantId, { limit: 1_000, cursor });
      all.push(...page.items);
      cursor = page.next;
    } while (cursor);
    return structuredClone(all);
  }

  getThread(grantId: string, threadId: string): WireThread | undefined {
    const thread = this.mailbox.thread(grantId, threadId);
    return thread && structuredClone(thread);
  }

  /** A thread's messages newest first, as `/messages?thread_id=` lists them. */
  listMessages(grantId: string, threadId: string): WireMessage[] {
    const messages = this.mailbox.messagesOf(grantId, threadId) ?? [];
    return structuredClone(messages.map((m) => presentMessage(m, 'none')).reverse());
  }

  getMessage(grantId: string, messageId: string, options: { headers?: boolean } = {}): WireMessage | undefined {
    const message = this.mailbox.message(grantId, messageId);
    return message && structuredClone(presentMessage(message, options.headers ? 'all' : 'none'));
  }

  /** The grant object as GET /v3/grants/{id} returns it. */
  getGrant(grantId: string): ReturnType<Mailbox['grant']> {
    return this.mailbox.grant(grantId);
  }

  /** Adds a message (to a new thread when threadId is omitted) and sends message.created. */
  async createMessage(grantId: string, input: NewMessage = {}, opts: MutationOptions = {}): Promise<{ message: WireMessage; delivery?: WebhookDelivery }> {
    const deliver = this.shouldDeliver(opts.deliver);
    const message = presentMessage(this.mailbox.createMessage(grantId, input), 'none');
    const delivery = deliver ? await this.deliverMessage('message.created', message, opts.truncated) : undefined;
    return { message: structuredClone(message), ...(delivery && { delivery }) };
  }

  /** Changes flags or folders of a message and sends message.updated. */
  async updateMessage(grantId: string, messageId: string, changes: MessageChanges, opts: MutationOptions = {}): Promise<{ message: WireMessage; delivery?: WebhookDelivery }> {
    const deliver = this.shouldDeliver(opts.deliver);
    const message = presentMessage(this.mailbox.updateMessage(grantId, messageId, changes), 'none');
    const delivery = deliver ? await this.deliverMessage('message.updated', message, opts.truncated) : undefined;
    return { message: structuredClone(message), ...(delivery && { delivery }) };
  }

  /** Invalidates the grant (its mail endpoints answer 401) and sends grant.expired. */
  async expireGrant(grantId: string, opts: { deliver?: boolean } = {}): Promise<{ delivery?: WebhookDelivery }> {
    const deliver = this.shouldDeliver(opts.deliver);
    const grant = this.mailbox.setExpired(grantId, true);
    if (!deliver) return {};
    const delivery = await this.sendWebhook('grant.expired', {
      code: GRANT_EXPIRED_CODE,
      grant_id: grant.id,
      integration_id: `${this.options.applicationId}-google`,
      provider: grant.provider,
      email: grant.email,
      grant_updated_at: grant.updated_at,
    });
    return { delivery };
  }

  /** Re-authenticates an expired grant (mail endpoints answer again) and sends grant.updated. */
  async restoreGrant(grantId: string, opts: { deliver?: boolean } = {}): Promise<{ delivery?: WebhookDelivery }> {
    const deliver = this.shouldDeliver(opts.deliver);
    const grant = this.mailbox.setExpired(grantId, false);
    if (!deliver) return {};
    return { delivery: await this.sendWebhook('grant.updated', { ...grant, object: 'grant' }) };
  }

  /** Builds, signs and POSTs a notification (to `opts.url` or the configured webhookUrl). */
  async sendWebhook(type: string, object: unknown, opts: { id?: string; url?: string; attempt?: number } = {}): Promise<WebhookDelivery> {
    const url = opts.url ?? this.options.webhookUrl;
    if (url === undefined) throw new Error('sendWebhook needs a url: set webhookUrl or pass opts.url');
    return postWebhook(url, this.signed(type, object, opts));
  }

  /** The signed envelope without sending it (for load generators). */
  buildWebhook(type: string, object: unknown, opts: { id?: string; attempt?: number } = {}): SignedWebhook {
    return this.signed(type, object, opts);
  }

  /** Performs Nylas's destination verification (GET ?challenge=) against a receiver. */
  challengeWebhook(url?: string): Promise<{ ok: boolean; status: number; body: string }> {
    const target = url ?? this.options.webhookUrl;
    if (target === undefined) throw new Error('challengeWebhook needs a url: set webhookUrl or pass one');
    return challengeWebhook(target);
  }

  /**
   * Emulator time in unix seconds (new message dates, webhook `time`): the wall clock, or a pinned
   * `now` advancing with it, so mutations land after the generated mailbox either way.
   */
  clock(): number {
    return this.clockBase + Math.floor((Date.now() - this.createdAt) / 1000);
  }

  private signed(type: string, object: unknown, opts: { id?: string; attempt?: number }): SignedWebhook {
    const secret = this.options.webhookSecret;
    if (secret === undefined) throw new Error('webhooks need a webhookSecret to sign with');
    return buildSignedWebhook({ type, object, applicationId: this.options.applicationId, time: this.clock(), ...opts }, secret);
  }

  /** Decided before a mutation, so `deliver: true` without a webhookUrl fails without changing anything. */
  private shouldDeliver(deliver: boolean | undefined): boolean {
    if (deliver === false) return false;
    if (this.options.webhookUrl !== undefined) return true;
    if (deliver === true) throw new Error('deliver: true needs webhookUrl');
    return false;
  }

  private deliverMessage(type: string, message: WireMessage, truncated: boolean | undefined): Promise<WebhookDelivery> {
    if (!truncated) return this.sendWebhook(type, message);
    // Nylas sends the ".truncated" variant when the notification would pass 1 MB: no body.
    const { body: _body, ...withoutBody } = message;
    return this.sendWebhook(`${type}.truncated`, withoutBody);
  }
}
