import { randomUUID } from 'node:crypto';
import type { Sql } from '../storage/index.ts';

/** Job lifecycle event types. Domains may publish their own types (a backfill's progress, say). */
export type JobEventType =
  | 'enqueued' | 'started' | 'progress' | 'completed' | 'failed' | 'dead' | 'parked' | 'cancelling' | 'cancelled';

export interface NovaEvent {
  type: JobEventType | (string & {});
  /** The queue of the jobs concerned. */
  queue?: string;
  /** The jobs concerned; one event covers a whole batch. */
  ids?: number[];
  /** Free-form subject for non-job events, such as `backfill:<configId>`. */
  topic?: string;
  data?: unknown;
  error?: string;
  /** Milliseconds since the epoch when the change committed. */
  at: number;
}

export type EventListener = (event: NovaEvent) => void;

/** How events travel between processes: PostgreSQL LISTEN/NOTIFY by default, or Redis pub/sub. */
export interface EventTransport {
  publish(payload: string): Promise<void>;
  subscribe(onPayload: (payload: string) => void): Promise<() => Promise<void>>;
}

/** The database as transport: NOTIFY / LISTEN on the `nova_events` channel. */
export function databaseTransport(sql: Sql): EventTransport {
  return {
    publish: (payload) => sql.notify(CHANNEL, payload),
    subscribe: (onPayload) => sql.listen(CHANNEL, onPayload),
  };
}

const CHANNEL = 'nova_events';
/** Smallest gap between two notifications of one busy process (a bucket refilled one per gap). */
const MIN_GAP_MS = 20;
/**
 * The bucket's size: notifications a process that was quiet may send back to back, so a run's
 * end right after its streamed tokens goes at once instead of waiting out the gap behind them.
 */
const BURST = 3;
// NOTIFY payloads must stay under 8,000 bytes (not characters); leave room for the envelope.
const MAX_PAYLOAD = 7_000;

/**
 * Delivers events to listeners in this process at once and, once connected, to every other
 * Nova process on the same database through LISTEN/NOTIFY (or Redis pub/sub). Events emitted in one
 * tick, or while the previous notification is being sent, travel in one notification.
 */
export class EventHub {
  private readonly listeners = new Set<EventListener>();
  private readonly origin = randomUUID();
  private transport: EventTransport | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private outbox: NovaEvent[] = [];
  private flushScheduled = false;
  private sending: Promise<void> | undefined;
  /** Notifications that may go without waiting (up to BURST), as of `creditAt`. */
  private credit = BURST;
  private creditAt = 0;
  onPublishError: (err: unknown) => void = () => {};

  /**
   * Adds a listener. Once connected, the hub starts receiving other processes' events with its
   * first listener (see `listening`): a process nobody listens in does not pay for parsing them.
   */
  on(listener: EventListener): () => void {
    this.listeners.add(listener);
    if (this.transport && !this.listening) {
      this.listening = this.listen(this.transport);
      this.listening.catch(this.onPublishError);
    }
    return () => this.listeners.delete(listener);
  }

  /** Resolves once events of other processes are being received (after `connect` and `on`). */
  listening: Promise<void> | undefined;

  emit(event: NovaEvent): void {
    this.deliver(event);
    if (!this.transport) return;
    this.outbox.push(event);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // This tick's events travel in one notification, and while one is being sent the next
      // gather (see flush): every NOTIFY is a commit, and wakes every listening process. A busy
      // process sends one notification per MIN_GAP_MS (50 a second); a quiet one publishes at
      // once, up to BURST in a row (always waiting 5 ms cost the queue bench a fifth of its throughput).
      const wait = (1 - this.credits(Date.now())) * MIN_GAP_MS;
      if (wait > 0) setTimeout(() => this.flush(), wait);
      else setImmediate(() => this.flush());
    }
  }

  /** Publishes to and receives from other processes through the database (or another transport). */
  async connect(through: Sql | EventTransport): Promise<void> {
    this.transport = 'publish' in through ? through : databaseTransport(through);
    if (this.listeners.size) await (this.listening = this.listen(this.transport));
  }

  private async listen(transport: EventTransport): Promise<void> {
    this.unlisten = await transport.subscribe((payload) => {
      let message: { o: string; e: NovaEvent[] };
      try {
        message = JSON.parse(payload);
      } catch {
        return;
      }
      if (message.o === this.origin) return;
      for (const event of message.e) this.deliver(event);
    });
  }

  async disconnect(): Promise<void> {
    this.flush();
    while (this.sending) await this.sending;
    await this.listening;
    await this.unlisten?.();
    this.transport = undefined;
    this.unlisten = undefined;
    this.listening = undefined;
  }

  private credits(now: number): number {
    return Math.min(BURST, this.credit + (now - this.creditAt) / MIN_GAP_MS);
  }

  private deliver(event: NovaEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own; the others still get the event.
      }
    }
  }

  /**
   * Publishes the outbox. One publication at a time, its chunks in order: notifications sent on
   * different pooled connections could otherwise arrive out of order (completed before started).
   */
  private flush(): void {
    this.flushScheduled = false;
    const transport = this.transport;
    if (!transport || this.outbox.length === 0 || this.sending) return;
    const events = this.outbox;
    this.outbox = [];
    const now = Date.now();
    this.credit = Math.max(0, this.credits(now) - 1);
    this.creditAt = now;
    this.sending = (async () => {
      // Each event is serialized once: its text both measures it and goes into the payload.
      const head = `{"o":${JSON.stringify(this.origin)},"e":[`;
      for (const chunk of chunkEvents(events)) {
        await transport.publish(`${head}${chunk.join(',')}]}`).catch(this.onPublishError);
      }
    })().finally(() => {
      this.sending = undefined;
      // What gathered meanwhile goes next.
      this.flush();
    });
  }
}

/** The events as JSON texts, grouped so each group fits one notification. */
function chunkEvents(events: NovaEvent[]): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const event of events) {
    for (const piece of splitIds(event)) {
      const text = JSON.stringify(piece);
      // The limit is in bytes: a text of many non-ASCII characters is up to three times its length.
      const len = Buffer.byteLength(text);
      if (len > MAX_PAYLOAD) continue; // an oversized data blob cannot travel; local listeners had it
      if (size + len > MAX_PAYLOAD && current.length) {
        chunks.push(current);
        current = [];
        size = 0;
      }
      current.push(text);
      size += len + 1;
    }
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/** Splits an event about many jobs into pieces small enough for one notification. */
function splitIds(event: NovaEvent): NovaEvent[] {
  const ids = event.ids;
  if (!ids || ids.length <= 400) return [event];
  const pieces: NovaEvent[] = [];
  for (let i = 0; i < ids.length; i += 400) pieces.push({ ...event, ids: ids.slice(i, i + 400) });
  return pieces;
}
