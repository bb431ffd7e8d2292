import { SMTPServer } from 'smtp-server';

/**
 * A local SMTP sink (the `smtp-server` library speaking real SMTP): it accepts every message and
 * keeps the last `capacity` of them in memory, for tests, the demo default and the bench. Nova's
 * email channel reaches it through nodemailer exactly as it reaches a real relay. Like many relays
 * it greets a new connection only after a pause (smtp-server's fixed 100 ms early-talker check),
 * so the first message on each of the channel's pooled connections takes 100 ms longer.
 */
export interface CapturedMail {
  id: number;
  from: string;
  to: string[];
  subject: string;
  /** The whole RFC 5322 message as received. */
  raw: string;
  receivedAt: number;
}

export interface SmtpSinkOptions {
  /** Messages kept (oldest dropped first); default 1000. */
  capacity?: number;
  /** Largest message accepted, in bytes; default 1 MiB. */
  maxBytes?: number;
  /** Answer 451 (a temporary failure) to this many messages first, for retry tests. */
  failFirst?: number;
  /** Answers each message this long after it arrived, as a slow relay does; default 0. */
  replyDelayMs?: number;
}

export class SmtpSink {
  private server: SMTPServer | undefined;
  private readonly kept: CapturedMail[] = [];
  private seq = 0;
  private failures: number;
  private readonly listeners = new Set<(mail: CapturedMail) => void>();
  /** Messages accepted since start (not bounded by capacity). */
  accepted = 0;
  port = 0;

  constructor(private readonly options: SmtpSinkOptions = {}) {
    this.failures = options.failFirst ?? 0;
  }

  /** Makes the next `n` messages fail with 451. */
  failNext(n: number): void {
    this.failures = n;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    const maxBytes = this.options.maxBytes ?? 1 << 20;
    this.server = new SMTPServer({
      authOptional: true,
      // No reverse DNS of each client: it needs the libuv pool, which a busy embedded database also uses.
      disableReverseLookup: true,
      disabledCommands: ['STARTTLS'],
      size: maxBytes,
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        let size = 0;
        stream.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= maxBytes) chunks.push(c);
        });
        stream.on('end', () => {
          if (this.failures > 0) {
            this.failures--;
            const err = Object.assign(new Error('temporary failure (emulated)'), { responseCode: 451 });
            return callback(err);
          }
          if (size > maxBytes) return callback(Object.assign(new Error('message too large'), { responseCode: 552 }));
          const envelope = {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
          };
          const accept = () => callback(null, `queued as ${this.capture(envelope, Buffer.concat(chunks).toString('utf8')).id}`);
          if (this.options.replyDelayMs) setTimeout(accept, this.options.replyDelayMs);
          else accept();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    // A client that vanishes mid-exchange (a killed process) is that connection's end, not the sink's.
    this.server.on('error', () => {});
    this.port = (this.server.server.address() as { port: number }).port;
    return this.url;
  }

  private capture(envelope: { from: string; to: string[] }, raw: string): CapturedMail {
    const mail: CapturedMail = { id: ++this.seq, ...envelope, subject: headerOf(raw, 'subject'), raw, receivedAt: Date.now() };
    this.kept.push(mail);
    if (this.kept.length > (this.options.capacity ?? 1000)) this.kept.shift();
    this.accepted++;
    for (const l of this.listeners) l(mail);
    return mail;
  }

  /** Captured messages, newest last. */
  messages(): CapturedMail[] {
    return [...this.kept];
  }

  /** Calls `fn` for every message accepted from now on; returns the unsubscribe. */
  onMail(fn: (mail: CapturedMail) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  clear(): void {
    this.kept.length = 0;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** One header's value (unfolded; encoded words are left as sent). */
function headerOf(raw: string, name: string): string {
  const end = raw.indexOf('\r\n\r\n');
  const head = (end === -1 ? raw : raw.slice(0, end)).replace(/\r\n[ \t]+/g, ' ');
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) return line.slice(colon + 1).trim();
  }
  return '';
}
